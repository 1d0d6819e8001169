"""Text-to-video generators for the refinement loop (registered in :data:`aigve.registry.GENERATORS`).

``procedural`` (offline, for tests and demos), ``command`` (any external program through a template) and
``diffusers`` (a diffusers text-to-video pipeline). Heavy libraries load only when a generator runs.
"""

from aigve.refine.generators.command import CommandGenerator
from aigve.refine.generators.diffusion import DiffusersGenerator
from aigve.refine.generators.procedural import ProceduralGenerator

__all__ = ["CommandGenerator", "DiffusersGenerator", "ProceduralGenerator"]
