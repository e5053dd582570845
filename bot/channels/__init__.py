"""Custom Rasa input channels.

Importing the package also installs the cached action-response validator
(channels.action_validation): `rasa run` imports this package for the desk
channel, so every served conversation gets it.
"""
from channels import action_validation

action_validation.install()
