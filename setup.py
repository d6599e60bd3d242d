"""Everything is in pyproject.toml but one thing it cannot say: ``templates/`` stays at the
repository's root and ships inside the wheel as ``panel_tracker/templates`` (where an
installed app looks first; see ``panel_tracker.templates_folder``)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["panel_tracker", "panel_tracker.*"]) + ["panel_tracker.templates"],
    package_dir={"panel_tracker.templates": "templates"},
)
