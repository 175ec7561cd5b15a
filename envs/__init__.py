"""Built-in first-person 3D environments (DMLab-, Minecraft- and Habitat-style) and adapters."""
