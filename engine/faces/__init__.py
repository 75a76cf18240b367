"""Pass 6, the faces: how people and programs reach the engine.

Takes what the passes below decided; gives text, JSON, SARIF, JUnit, ICS and exit codes. The command
line (:mod:`~engine.faces.cli`) and its renderers (:mod:`~engine.faces.render`,
:mod:`~engine.faces.render_policytest`, :mod:`~engine.faces.render_diff`, and
:mod:`~engine.faces.render_machine` for SARIF, GitHub annotations and iCalendar). A face renders; it
never decides.
"""
