"""The `docintake` command: a client of the runtime package (``docintake``), run by developers and operators,
on this machine against the local stack or against AWS. Never shipped in a Lambda layer."""
