"""The ``serialvault`` command line (typer + rich): one module per command group; every
command opens what it needs and calls one library function.
"""
