# The fixture as a plugin, as a project using it would enable it.
pytest_plugins = ["agentsend_fixture"]
