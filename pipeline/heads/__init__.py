"""The heads: the schema a dataset declares (schema), the kinds a head can be (kinds/), the
figures a head is scored by (metrics) and the "not sure" rule with its calibration (notsure).
Nothing outside this package asks which kind a head is: it asks the kind what it can do."""
