"""``loadcheck demo``: the whole product on built-in defaults, from one command.

Orchestration only (:mod:`loadcheck.demo.runner`); every step calls the library's own code.
:mod:`loadcheck.demo.data` finds the scenes and networks, :mod:`loadcheck.demo.report` measures
and writes the report.
"""
