"""What every package shares: the one error type (errors), crash-safe file writes and hashes
(io), the model's settings as data (config) and the one way to import TensorFlow (tfcompat)."""
