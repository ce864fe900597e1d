"""Scale-out: many workers on many hosts share one plan's rate through Redis.

Optional (``pip install 'bulksend[redis]'``); the embedded engine does not
need it. Layers, from the bottom: ``gcra`` and ``codec`` (pure), ``scripts``
(the Lua), ``broker`` (the only Redis I/O), then the worker and the
submitter built on it.
"""
