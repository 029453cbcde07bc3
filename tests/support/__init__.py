"""Test helpers shared by several test packages (servers, stand-ins)."""
