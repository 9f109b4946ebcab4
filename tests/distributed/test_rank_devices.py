"""One device per rank, without MPI: ``one_device_per_rank`` maps --device to the local rank's.

array-api-strict's three devices (strict:0 to strict:2) stand in for a node's GPUs; the 2-rank
run on them is in test_mpi.py.
"""

from __future__ import annotations

import pytest

from chainrule import backend
from chainrule.train.device import one_device_per_rank, run_device

pytest.importorskip("array_api_strict", reason="the strict devices need array-api-strict")


@pytest.mark.parametrize("local_rank", [0, 1, 2])
def test_a_device_without_an_index_is_the_local_ranks(local_rank):
    with one_device_per_rank(local_rank, 3):
        assert run_device("strict") == backend.device("strict", local_rank)
        # the CPU is shared, and an explicit index is taken as given
        assert run_device("cpu") == backend.device("cpu")
        assert run_device("strict:2") == backend.device("strict", 2)
        if not backend.available("cuda"):
            assert run_device("auto") == backend.device("cpu")
    # outside, a run's device is as it was
    assert run_device("strict") == backend.device("strict")
    assert run_device("strict").index is None


def test_the_mapping_nests_and_is_undone_after_an_error():
    with one_device_per_rank(1, 2):
        with pytest.raises(ValueError, match="strict device"):
            with one_device_per_rank(3, 4):
                run_device("strict")
        assert run_device("strict") == backend.device("strict", 1)
    assert run_device("strict").index is None


@pytest.mark.parametrize("local_rank", [0, 3])
def test_fewer_devices_than_ranks_is_a_clear_error_on_every_rank(local_rank):
    # rank 0 has a device, but its node lacks one for rank 3: every rank says so, the same way
    with one_device_per_rank(local_rank, 4), pytest.raises(ValueError) as e:
        run_device("strict")
    assert str(e.value) == (
        "--device strict: the 4 ranks on this node each need a strict device of their own "
        "(strict:0 to strict:3), but this node has 3. Start at most 3 ranks per node (MPICH: "
        "mpiexec -ppn 3; Open MPI: mpiexec --map-by ppr:3:node), or train on --device cpu"
    )


@pytest.mark.parametrize(("local_rank", "local_size"), [(2, 2), (-1, 2), (0, 0)])
def test_a_local_rank_outside_the_node_is_refused(local_rank, local_size):
    with pytest.raises(ValueError, match="0 <= local_rank < local_size"):
        with one_device_per_rank(local_rank, local_size):
            pass
