"""no_grad / enable_grad / set_grad_enabled, and anomaly detection."""

import os
import threading

import numpy as np
import pytest

import chainrule as cr

THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def _restore_modes():
    yield
    cr.set_grad_enabled(True)
    cr.autograd.set_detect_anomaly(False)


def leaf():
    return cr.tensor([1.0, 2.0], requires_grad=True)


def recorded(x):
    y = x * 2.0
    return y.requires_grad and y.grad_fn is not None


# ----- grad mode -----
def test_recording_is_on_by_default():
    assert cr.is_grad_enabled()
    assert cr.autograd.is_grad_enabled()
    assert recorded(leaf())


def test_no_grad_context_manager():
    x = leaf()
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert cr.is_grad_enabled()
    assert recorded(x)


def test_enable_grad_inside_no_grad_and_nesting():
    x = leaf()
    with cr.no_grad():
        with cr.enable_grad():
            assert cr.is_grad_enabled()
            assert recorded(x)
            with cr.no_grad():
                assert not recorded(x)
            assert cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
        assert not recorded(x)
    assert cr.is_grad_enabled()


def test_the_same_no_grad_object_can_be_nested():
    ng = cr.no_grad()
    with ng:
        with ng:
            assert not cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_modes_are_restored_after_an_exception():
    with pytest.raises(ValueError):
        with cr.no_grad():
            raise ValueError("boom")
    assert cr.is_grad_enabled()
    with cr.no_grad():
        with pytest.raises(ValueError):
            with cr.enable_grad():
                raise ValueError("boom")
        assert not cr.is_grad_enabled()


@pytest.mark.parametrize("parentheses", [True, False], ids=["no_grad()", "no_grad"])
def test_no_grad_as_a_decorator(parentheses):
    deco = cr.no_grad() if parentheses else cr.no_grad

    @deco
    def double(t):
        """Doc."""
        assert not cr.is_grad_enabled()
        return t * 2.0

    y = double(leaf())
    assert not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    assert cr.is_grad_enabled()
    assert double.__name__ == "double" and double.__doc__ == "Doc."


@pytest.mark.parametrize("parentheses", [True, False], ids=["enable_grad()", "enable_grad"])
def test_enable_grad_as_a_decorator(parentheses):
    deco = cr.enable_grad() if parentheses else cr.enable_grad

    @deco
    def double(t):
        return t * 2.0

    with cr.no_grad():
        y = double(leaf())
        assert not cr.is_grad_enabled()
    assert y.requires_grad


def test_decorated_function_restores_the_mode_after_an_exception():
    @cr.no_grad()
    def fail():
        raise KeyError("x")

    with pytest.raises(KeyError):
        fail()
    assert cr.is_grad_enabled()


def test_a_decorated_generator_runs_in_the_mode_at_each_resumption():
    """As PyTorch's: the generator's body in the decorator's mode every time it resumes, the
    caller's own mode in between (before, the body ran in the caller's mode)."""
    x = leaf()

    @cr.no_grad()
    def batches(n):
        for _ in range(n):
            got = yield (x * 2.0).requires_grad, cr.is_grad_enabled()
            assert got in (None, "sent")
        return "done"

    gen = batches(3)
    assert next(gen) == (False, False)
    assert (x * 2.0).requires_grad and cr.is_grad_enabled()  # the caller's mode between
    assert gen.send("sent") == (False, False)
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert gen.__next__() == (False, False)
        assert not cr.is_grad_enabled()
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"

    @cr.enable_grad
    def recording():
        try:
            yield cr.is_grad_enabled()
        except KeyError:
            yield "caught"  # an exception thrown in reaches the body, in its mode
        finally:
            closed.append(cr.is_grad_enabled())

    closed: list = []
    with cr.no_grad():
        gen = recording()
        assert next(gen) is True
        assert gen.throw(KeyError("k")) == "caught"
        gen.close()
        assert closed == [True] and not cr.is_grad_enabled()


@pytest.mark.parametrize(
    "use", ["with", "decorator()", "bare decorator", "mode=False"], ids=lambda u: u
)
def test_inference_mode_records_nothing_as_no_grad(use):
    x = leaf()
    if use == "with":
        with cr.inference_mode():
            y = x * 2.0
    elif use == "mode=False":
        with cr.inference_mode(False):
            y = x * 2.0
        assert y.requires_grad  # leaves recording as it is
        with cr.no_grad(), cr.inference_mode(mode=False):
            assert not (x * 2.0).requires_grad
        return
    else:
        deco = cr.inference_mode() if use == "decorator()" else cr.inference_mode
        y = deco(lambda t: t * 2.0)(x)
    assert not y.requires_grad and y.grad_fn is None
    assert cr.is_grad_enabled()


def test_set_grad_enabled_as_a_context_manager():
    x = leaf()
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
        assert not recorded(x)
        with cr.set_grad_enabled(True):
            assert recorded(x)
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    with cr.no_grad():
        with cr.set_grad_enabled(True):
            assert recorded(x)
        assert not cr.is_grad_enabled()


def test_set_grad_enabled_as_a_function():
    x = leaf()
    cr.set_grad_enabled(False)
    assert not cr.is_grad_enabled()
    assert not recorded(x)
    cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()
    assert recorded(x)


def test_set_grad_enabled_as_a_decorator():
    # as in PyTorch: @torch.set_grad_enabled(False) wraps the function and leaves the mode alone
    @cr.set_grad_enabled(False)
    def double(t):
        return t * 2.0

    assert cr.is_grad_enabled()
    y = double(leaf())
    assert not y.requires_grad
    assert cr.is_grad_enabled()


def test_no_grad_results_are_leaves_that_do_not_block_later_graphs():
    w = leaf()
    with cr.no_grad():
        c = w * 3.0
    out = (c * w).sum()
    out.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 6.0])  # c is a constant


# ----- anomaly detection -----
def _in_thread(fn):
    """``fn()`` run in a new thread; what it returned (its exception raised here)."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 (handed to the test's thread)
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_a_new_thread_records_whatever_its_starter_set():
    # as PyTorch: grad mode is each thread's own, and a thread starts with it on
    x = leaf()
    with cr.no_grad():
        assert _in_thread(lambda: (cr.is_grad_enabled(), recorded(x))) == (True, True)
        assert not recorded(x)
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        assert _in_thread(torch.is_grad_enabled) is True


def test_no_grad_in_one_thread_never_stops_another_threads_recording():
    # a thread holds no_grad open while this one records, then this one's no_grad is left
    # alone by the other thread's exit: driven by events, not by the clock
    x = leaf()
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def other():
        with cr.no_grad():
            inside.set()
            done.wait()
            seen["other"] = recorded(x)
        seen["other after"] = recorded(x)

    t = threading.Thread(target=other)
    t.start()
    inside.wait()
    y = (x * x).sum()  # recorded while the other thread is inside no_grad
    with cr.no_grad():
        done.set()
        t.join()  # the other thread has left its no_grad
        assert not recorded(x)
    t.join()
    assert seen == {"other": False, "other after": True}
    y.backward()
    assert np.array_equal(x.grad.numpy(), 2 * x.detach().numpy())


def test_anomaly_detection_is_one_switch_for_the_process():
    # as PyTorch's: turned on in one thread, it is on in every other
    cr.autograd.set_detect_anomaly(True)
    assert _in_thread(cr.autograd.is_anomaly_enabled) is True
    _in_thread(lambda: cr.autograd.set_detect_anomaly(False))
    assert not cr.autograd.is_anomaly_enabled()


def test_detect_anomaly_switch():
    assert not cr.autograd.is_anomaly_enabled()
    cr.autograd.set_detect_anomaly(True)
    assert cr.autograd.is_anomaly_enabled()
    cr.autograd.set_detect_anomaly(False)
    assert not cr.autograd.is_anomaly_enabled()
    with cr.autograd.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_in_forward_log_of_a_negative():
    cr.autograd.set_detect_anomaly(True)
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        cr.log(x)
    msg = str(info.value)
    assert "LogBackward" in msg
    assert "nan" in msg.lower()
    assert THIS_FILE in msg  # where the op was created


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_in_forward_zero_times_inf():
    cr.autograd.set_detect_anomaly(True)
    a = cr.tensor([0.0, 1.0], requires_grad=True)
    b = cr.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError) as info:
        a * b
    assert "MulBackward" in str(info.value)
    assert THIS_FILE in str(info.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_in_backward_sqrt_at_zero():
    cr.autograd.set_detect_anomaly(True)
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    y = cr.sqrt(x).sum()  # forward is finite; d sqrt(x)/dx = 1 / (2 sqrt(x)) is inf at 0
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert "SqrtBackward" in msg
    assert "inf" in msg.lower()
    assert THIS_FILE in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_context_manager_and_nothing_raised_when_off():
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="LogBackward"):
            cr.log(x)
    y = cr.log(x)  # off again: NaN passes through silently, as in PyTorch
    assert np.isnan(y.detach().numpy()[0])
    z = cr.tensor([0.0, 4.0], requires_grad=True)
    cr.sqrt(z).sum().backward()
    assert np.isinf(z.grad.numpy()[0])


def test_anomaly_mode_leaves_finite_computations_alone():
    cr.autograd.set_detect_anomaly(True)
    x = cr.tensor([1.0, 4.0], dtype=cr.float64, requires_grad=True)
    cr.sqrt(cr.log(x + 1.0)).sum().backward()
    expected = 1.0 / (2.0 * np.sqrt(np.log([2.0, 5.0])) * np.array([2.0, 5.0]))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)
