"""What the stacks cost, from what they plan (no cloud SDK: plans and catalog data only).

`estimate` prices a stack's planned resources line by line (`lines`, `resources`) at a
utilisation profile (`profile`); `standby` sets a standby's levels side by side with the RTO
each achieves; `focus` writes lines as FinOps FOCUS 1.2 rows; `tco` prices leaving one stack
for another. `compare` and `inference` price jobs and inferences (issue 17, items 3 and 5).
"""
