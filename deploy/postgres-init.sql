-- Rasa keeps its tracker store in its own database beside the desk's.
CREATE DATABASE rasa OWNER aduan;
