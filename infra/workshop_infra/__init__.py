"""The workshop environment on Azure as a Pulumi program: settings, names and components.

`infra/__main__.py` reads the settings, builds `WorkshopEnvironment` and exports its outputs;
everything else lives here so tests can build the same graph under Pulumi's mocks.
"""
