"""Multi-agent prompt refinement: generate a video, evaluate it, critique it, rewrite the prompt, repeat.

- :mod:`aigve.refine.roles`: the Generator / Evaluator / Critic / Refiner protocols and their records.
- :mod:`aigve.refine.generators`: ``procedural`` (offline), ``command`` (external program), ``diffusers``.
- :mod:`aigve.refine.critic`: scores + comments -> prioritised problems. :mod:`aigve.refine.intent`: the user's
  subjects and actions a rewrite must keep.
- :mod:`aigve.refine.refiners`: ``rules`` and ``llm`` (with :mod:`aigve.refine.chat` clients).
- :mod:`aigve.refine.loop`: the Controller and stopping rules. :mod:`aigve.refine.trace`: trace.jsonl,
  summary.json, best.mp4, gains.

Example::

    import aigve
    from aigve.refine.generators import ProceduralGenerator
    from aigve.refine.loop import Controller, StopPolicy
    from aigve.refine.refiners import RulesRefiner

    controller = Controller(ProceduralGenerator(), aigve.load_evaluator(backend="signals"), RulesRefiner(),
                            stop=StopPolicy(rounds=4, patience=2))
    summary = controller.run("a red ball bouncing on a wooden floor", "runs/refine")
    summary["objective"]["rel_gain"]
"""
