"""A scoring run: the job (:mod:`.job`), what decides its scores (:mod:`.spec`), its output folder and lock
(:mod:`.folder`), and the one batch loop (:mod:`.batch`). Import the submodules; this package imports nothing
so that ``import aigve`` stays light."""
