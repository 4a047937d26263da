"""The static order of one nested policy and seed -> order.tsv."""

from effaug.experiment import static_order
from effaug.features import read_features
from effaug.policies import parse_policy
from effaug.provenance import check_inputs
from effaug.results_io import write_order
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays
from effaug.task import read_points

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    w = snakemake.wildcards
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    policy = parse_policy(w.policy)
    scores = read_arrays(snakemake.input.scores, [w.score])[0][w.score] if policy.uses_score else None
    train = read_features(snakemake.input.features).train
    order = static_order(policy, scores, train, int(w.seed), Settings(**snakemake.params.settings), w.score)
    write_order(snakemake.output.order, order, scores, read_points(snakemake.input.task)[3], record)
