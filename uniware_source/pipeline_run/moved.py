"""A pipeline moved to another destination or dataset takes the state it left there.

The local state holds the cursors of the place the pipeline loaded last. dlt's sync at the start of a
run keeps it whenever its version is newer than the state the other place holds, so a pipeline moved
back to a place it loaded before went on from the cursors of the place it came from: the days between
its two loads there never arrived (exit 0, without a word). Moving, the local state yields to the
place's own: its state when it has one (dlt's sync restores it), a fresh start from `start_date` when
its dataset holds none of this pipeline's (another pipeline's dataset), or when it has no dataset yet
(dlt's sync wipes the local state then).
"""

from __future__ import annotations

import logging

from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.pipeline import Pipeline

from .resumable import dataset_exists, yield_to_loaded_state

log = logging.getLogger(__name__)


def take_the_places_state(pipeline: Pipeline) -> Pipeline:
    """`pipeline`, moved to where it now names, with the state that place holds for it (see above).
    The caller holds the pipeline's lock and has seen no load package waiting."""
    where = f"{pipeline.destination.destination_name if pipeline.destination else '?'} dataset " \
            f"'{pipeline.dataset_name}'"
    try:
        there = pipeline._restore_state_from_destination()
    except (DestinationUndefinedEntity, DatabaseUndefinedRelation):
        there = None
    if there is not None:
        log.info("pipeline %s moves to %s and goes on from the state it left there", pipeline.pipeline_name, where)
        yield_to_loaded_state(pipeline)
        return pipeline
    if not dataset_exists(pipeline):  # dlt's sync at the run's start wipes the local state
        log.info("pipeline %s moves to %s, new to it: it starts there from start_date", pipeline.pipeline_name, where)
        return pipeline
    log.info("pipeline %s moves to %s, which holds none of its state: it starts there from start_date",
             pipeline.pipeline_name, where)
    return pipeline.drop()
