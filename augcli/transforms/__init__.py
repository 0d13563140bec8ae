"""Transform declarations, one module per family (the family is the module's name).

Importing this package imports nothing: ``augcli.registry`` lists the family modules.
"""
