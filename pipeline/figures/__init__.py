"""What the benchmark and the report both draw and print: charts, the claims table and the
CPU a figure was measured on."""
