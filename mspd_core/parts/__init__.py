"""Each paper's own experimental vocabulary, one module per part (what all parts share is in
:mod:`mspd_core.experiments`): :mod:`.bilevel` for the Bi-Level paper (Part IV)."""
