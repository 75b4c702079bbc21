"""`cluster`: wrap the chosen layers with tfmot's weight clustering; a fine-tune trains the
centroids, strip leaves each tensor holding at most `number_of_clusters` distinct values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..engine.context import BuildContext, StageRecord
from ..engine.distribute import refuse_strategy
from ..engine.facts import Fact
from ..engine.model_engine import ModelEngine, zeros_to_hold
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import RecipeError
from ..keras import clustering
from ..report.format import table
from ..report.results import Clustered
from ..requirements import TENSORFLOW, TF_KERAS, TFMOT
from ..sparsity.distinct import channels
from .selection import LayerChoice, Selection, left_alone

if TYPE_CHECKING:
    from ..report.schema import BuildReport


@register_stage
@dataclass(frozen=True, kw_only=True)
class Cluster(Stage):
    """Weight clustering (tfmot's `cluster_weights`): each chosen layer's kernel is replaced
    by `number_of_clusters` shared values (centroids, initialised `linear`, `kmeans++` or by
    `density`), each weight pointing at one. A following finetune trains the centroids;
    strip leaves plain layers. `preserve_sparsity` keeps the zeros of an earlier prune at
    zero (on by default), `per_channel` gives each output channel of a Conv2D its own
    centroids. Like tfmot, it leaves DepthwiseConv2D alone; where zeros are kept, a pruning
    mask holds the zeros of the layers it does not cluster while the model fine-tunes.

    tfmot's clustering wrappers do not read back the centroids and zero masks they save, so
    a fine-tune while clustered writes no checkpoint: a resumed build runs it again from its
    start, to the same bytes."""

    kind: ClassVar[str] = "cluster"
    requires = frozenset({Fact.KERAS})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's clustering wrappers
    provides = frozenset({Fact.WRAPPED})
    forbids = frozenset({Fact.WRAPPED, Fact.FAKE_QUANT, Fact.TFLITE})
    Result = Clustered

    number_of_clusters: int = 16
    init: Literal["kmeans++", "linear", "density"] = "kmeans++"  # where the centroids start
    preserve_sparsity: bool = True  # zeros stay zero (an earlier prune's)
    per_channel: bool = False  # Conv2D: centroids per output channel
    layers: tuple[str, ...] = ()  # layer names or types to cluster; empty: all tfmot can
    exclude: tuple[str, ...] = ()  # layer names or types left as they are

    def __post_init__(self) -> None:
        least = 3 if self.preserve_sparsity else 2  # one centroid is zero's when preserving
        if not least <= self.number_of_clusters <= 256:
            raise RecipeError(
                f"number_of_clusters must be in [{least}, 256], got {self.number_of_clusters}",
                "number_of_clusters", "use e.g. 16 (4 bits a weight)" + (
                    "; preserve_sparsity keeps one centroid at zero"
                    if self.preserve_sparsity else ""))

    @property
    def clustering(self) -> clustering.Clustering:
        return clustering.Clustering(self.number_of_clusters, self.init,
                                     self.preserve_sparsity, self.per_channel)

    def made(self) -> frozenset[Fact]:
        """The weights take the centroids' values at once: strip may follow without a
        fine-tune (which recovers accuracy)."""
        return self.provides | {Fact.TRAINED}

    def summary(self) -> str:
        return (f"{self.number_of_clusters} clusters, {self.init}"
                + (", per channel" if self.per_channel else "")
                + ("" if self.preserve_sparsity else ", zeros not kept"))

    def preflight(self, ctx: BuildContext) -> None:
        refuse_strategy(ctx.setup.strategy, "cluster", "clustering")
        self.choose_layers(ctx.model, ctx.setup.engine)

    def choose_layers(self, model: Any, engine: ModelEngine) -> list[LayerChoice]:
        """Which layers with weights get clustered (ModelError for names that match none)."""
        selection = Selection(self.layers, self.exclude, "cluster", "cluster", "clustered",
                              "select layers tfmot can cluster (Dense, Conv*) with `layers`")
        return selection.choose(engine.layers(model), lambda layer: self._cannot(layer, engine))

    def _cannot(self, layer: Any, engine: ModelEngine) -> str | None:
        kind = type(layer).__name__
        weights = engine.clusterable_weights(layer)
        if weights is None:
            return f"tfmot cannot cluster {kind} layers"
        if not weights:
            return f"tfmot clusters no weights of {kind} layers"
        per_channel = self.per_channel and engine.per_channel_applies(layer)
        return self._too_few([np.asarray(w.numpy()) for w in weights], per_channel)

    def _too_few(self, weights: list[np.ndarray], per_channel: bool) -> str | None:
        """Why these weights are too few for the clusters asked (None when enough): each
        tensor (each channel, per channel) needs more values than clusters and, where zeros
        are kept, a non-zero value for each non-zero centroid (tfmot's initialisations fail
        short of that)."""
        where = "a channel of its kernel" if per_channel else "its kernel"
        clusters = self.number_of_clusters
        for weight in weights:
            slices = channels(weight, -1 if per_channel else None)
            least = min(values.size for values in slices)
            if least <= clusters:
                return f"{where} has {least} weights, not more than {clusters} clusters"
            nonzero = min(int(np.count_nonzero(values)) for values in slices)
            if self.preserve_sparsity and nonzero < clusters - 1:
                return (f"{where} has {nonzero} non-zero weights, fewer than the "
                        f"{clusters - 1} non-zero clusters")
        return None

    def run(self, ctx: BuildContext) -> BuildContext:
        engine = ctx.setup.engine
        choices = self.choose_layers(ctx.model, engine)
        chosen = {c.name for c in choices if c.chosen}
        held = zeros_to_hold(engine, ctx.model, chosen) if self.preserve_sparsity else {}
        # tfmot's wrapper takes over the layer it wraps: wrap a copy's, never the baseline's
        model, centroids = engine.cluster(engine.clone(ctx.model), chosen, self.clustering,
                                          held, ctx.setup.seed)
        return ctx.evolve(model=model, masks=centroids, result=Clustered(
            number_of_clusters=self.number_of_clusters, init=self.init,
            preserve_sparsity=self.preserve_sparsity, per_channel=self.per_channel,
            clustered_layers=[c.name for c in choices if c.chosen],
            skipped_layers=[{"layer": c.name, "type": c.type, "reason": c.reason}
                            for c in choices if not c.chosen],
            zeros_held=list(held)))

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        return {"clustering": [r.result.to_dict() for r in records]}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        parts = []
        for done in map(Clustered.from_dict, report.extra.get("clustering", [])):
            how = ", per channel" if done.per_channel else ""
            parts += [f"## Clustering: {done.number_of_clusters} clusters ({done.init}{how})",
                      "", f"Clustered layers: {', '.join(done.clustered_layers)}. Zeros "
                      + ("kept" if done.preserve_sparsity else "not kept") + (
                          f"; in {', '.join(done.zeros_held)} (not clustered) a pruning mask "
                          "holds them while fine-tuning." if done.zeros_held else "."), ""]
            parts += left_alone("Layers left as they are:", done.skipped_layers)
        rows = kept_in_file(report)
        if rows:
            parts += ["Clusters in the .tflite (distinct values of each clustered layer's "
                      "weights: in Keras after strip, and in the file, the most in one channel "
                      "where int8 gives each channel its own scale):", "",
                      table(["layer", "clusters", "Keras", ".tflite", "kept"],
                            [[r["layer"], r["clusters"], r["keras"], r["tflite"],
                              "yes" if r["kept"] else "NO"] for r in rows]), ""]
        return parts


def kept_in_file(report: BuildReport) -> list[dict[str, Any]]:
    """For each layer the last strip found clustered: the clusters asked, the most distinct
    values in one of its Keras tensors, in its .tflite weights (one channel, where scales are
    per channel), and whether the file holds at most the clusters."""
    stripped = [s["outputs"]["clusters"] for s in report.stages
                if s["kind"] == "strip" and s["outputs"].get("clusters")]
    if not stripped or not report.conversion:
        return []
    in_file = {w["layer"]: w for w in report.conversion.get("weights", [])}
    rows = []
    for layer in stripped[-1]:
        found = in_file.get(layer["layer"])
        tflite = None if found is None else found["channel_distinct"]
        rows.append({"layer": layer["layer"], "clusters": layer["clusters"],
                     "keras": layer["distinct"], "tflite": tflite,
                     "kept": tflite is not None and tflite <= layer["clusters"]})
    return rows
