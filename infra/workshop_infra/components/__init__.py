"""The ComponentResources the workshop environment is made of, one concern each."""
