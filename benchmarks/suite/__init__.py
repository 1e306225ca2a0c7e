"""The benchmark suite behind run_benchmarks.py, one module per concept.

systems (what is compared and against which targets), prepare (the data and the code snapshot
every run uses), runner (training and evaluating each run in subprocesses), worker (what runs
in those subprocesses, against the snapshot), report (the summary files) and charts (its PNGs);
helpers holds what they share. run_benchmarks.py is the command line.
"""
