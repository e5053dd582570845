"""Custom actions of the Aduan assistant (rasa-sdk action server)."""
