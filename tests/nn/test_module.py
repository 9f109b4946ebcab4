"""Module registration, traversal, modes, state dicts and PyTorch interoperability."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2)
        self.scale = 2.0

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_parameters_registered_by_assignment_in_order():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert [type(c).__name__ for c in m.children()] == ["Linear", "ReLU", "Linear"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]


def test_shared_parameter_listed_once():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    m[1].weight = m[0].weight
    assert len(list(m.parameters())) == 3


def test_module_list_and_dict_register_their_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)})

    names = [n for n, _ in Net().named_parameters()]
    assert names[:2] == ["blocks.0.weight", "blocks.0.bias"]
    assert "blocks.2.bias" in names and "heads.b.weight" in names
    assert len(names) == 10


def test_unknown_attribute_fails_loudly_with_suggestion():
    m = nn.Linear(2, 3)
    with pytest.raises(AttributeError, match="'wieght'.*did you mean 'weight'"):
        m.wieght
    with pytest.raises(AttributeError, match="trainig.*did you mean 'training'"):
        m.trainig = False
    m.training = False  # known attributes can still be set
    assert m.training is False


def test_assigning_a_plain_tensor_to_a_parameter_slot_is_refused():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="expected a cr.nn.Parameter"):
        m.weight = cr.zeros(3, 2)


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_train_eval_reach_every_submodule():
    m = nn.MLP(4, [8], 2, dropout=0.5)
    m.eval()
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())


def test_dropout_only_in_training_and_scaled():
    cr.manual_seed(0)
    d = nn.Dropout(0.5)
    x = cr.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    d.eval()
    assert d(x) is x


def test_zero_grad_and_apply():
    m = TwoLayer()
    m(cr.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "TwoLayer"]


def test_to_double_keeps_parameter_objects():
    m = TwoLayer()
    w = m.fc1.weight
    m.double()
    assert m.fc1.weight is w and w.dtype == cr.float64
    assert m(cr.randn(2, 4, dtype=cr.float64)).dtype == cr.float64
    m.float()
    assert w.dtype == cr.float32


def test_repr_tree():
    text = repr(nn.MLP(3072, [100], 10))
    assert "(0): Linear(in_features=3072, out_features=100, bias=True)" in text
    assert "(1): ReLU()" in text and "(2): Linear(in_features=100, out_features=10" in text


def test_state_dict_round_trip_and_sharing():
    a, b = TwoLayer(), TwoLayer()
    b.load_state_dict(a.state_dict())
    x = cr.randn(3, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    sd = a.state_dict()
    assert not sd["fc1.weight"].requires_grad
    assert np.shares_memory(sd["fc1.weight"].numpy(), a.fc1.weight.detach().numpy())


def test_load_state_dict_reports_every_problem_at_once_and_loads_nothing():
    m = TwoLayer()
    before = m.fc2.weight.detach().numpy().copy()
    sd = dict(m.state_dict())
    del sd["fc1.bias"]
    sd["extra.weight"] = cr.zeros(1)
    sd["fc1.weight"] = cr.zeros(5, 4)
    sd["fc2.weight"] = cr.ones(2, 3)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "fc1.bias" in msg and "extra.weight" in msg
    assert "size mismatch for fc1.weight" in msg and "(5, 4)" in msg and "(3, 4)" in msg
    np.testing.assert_array_equal(m.fc2.weight.detach().numpy(), before)


def test_load_state_dict_non_strict_returns_keys():
    m = TwoLayer()
    sd = dict(m.state_dict())
    del sd["fc2.bias"]
    sd["x"] = cr.zeros(1)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc2.bias"] and result.unexpected_keys == ["x"]


def test_batchnorm_buffers_in_state_dict():
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]


def test_mlp_state_dict_keys_match_pytorch_sequential():
    assert list(nn.MLP(3072, [100], 10).state_dict()) == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
    ]
    assert list(nn.MLP(2, [3, 3], 1, dropout=0.1).state_dict()) == [
        "0.weight",
        "0.bias",
        "3.weight",
        "3.bias",
        "6.weight",
        "6.bias",
    ]


def test_linear_wrong_features_names_expected_and_got():
    with pytest.raises(ValueError, match=r"expected input with 3072 features.*\(8, 3071\)"):
        nn.Linear(3072, 10)(cr.randn(8, 3071))


def test_linear_default_init_bounds():
    cr.manual_seed(1)
    lin = nn.Linear(400, 50)
    w = lin.weight.detach().numpy()
    assert lin.weight.shape == (50, 400)
    assert np.abs(w).max() <= 1 / 20 and np.abs(w).max() > 0.9 / 20
    assert np.abs(lin.bias.detach().numpy()).max() <= 1 / 20


def test_l2_penalty_lecture_example_7():
    x = cr.tensor([1.0, 1.0, 1.0, 1.0])
    w1 = cr.tensor([1.0, 0.0, 0.0, 0.0])
    w2 = cr.tensor([0.25, 0.25, 0.25, 0.25])
    assert (w1 * x).sum().item() == (w2 * x).sum().item() == 1.0
    assert nn.l2_penalty([w1]).item() == 1.0
    assert nn.l2_penalty([w2]).item() == 0.25


def test_l2_penalty_excludes_biases_of_a_module():
    m = TwoLayer()
    expected = sum(float((p.detach().numpy() ** 2).sum()) for p in (m.fc1.weight, m.fc2.weight))
    assert nn.l2_penalty(m).item() == pytest.approx(expected, rel=1e-6)
    with_bias = nn.l2_penalty(m, exclude_bias=False).item()
    assert with_bias > nn.l2_penalty(m).item()


def test_clip_grad_norm_and_value():
    a = cr.tensor([3.0, 4.0], requires_grad=True)
    a.grad = cr.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_([a], 1.0)
    assert total.item() == pytest.approx(5.0)
    assert np.linalg.norm(a.grad.numpy()) == pytest.approx(1.0, rel=1e-5)
    a.grad = cr.tensor([-3.0, 0.5])
    nn.utils.clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, 0.5])


def test_init_functions_follow_their_formulas():
    cr.manual_seed(0)
    w = cr.zeros(200, 300)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= np.sqrt(6 / 500)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(np.sqrt(2 / 300), rel=0.05)
    nn.init.constant_(w, 0.5)
    assert np.all(w.numpy() == 0.5)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", 0.1) == pytest.approx(np.sqrt(2 / 1.01))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        nn.init.calculate_gain("swish")


def test_maxout_is_max_of_affine_maps():
    m = nn.Maxout(3, 2, pieces=2).double()
    x = cr.randn(5, 3, dtype=cr.float64)
    z = x.numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy()
    expected = z.reshape(5, 2, 2).max(-1)
    np.testing.assert_allclose(m(x).detach().numpy(), expected)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: nn.Linear(3, 2),
        lambda: nn.Maxout(3, 2, pieces=3),
        lambda: nn.BatchNorm1d(3),
        lambda: nn.LayerNorm(3),
        lambda: nn.MLP(3, [4], 2, activation="tanh"),
        lambda: nn.MLP(3, [4], 2, activation="elu"),
        lambda: nn.MLP(3, [4], 2, activation="leaky_relu"),
        lambda: nn.MLP(3, [4], 2, activation="sigmoid"),
    ],
)
def test_layers_gradcheck(layer):
    cr.manual_seed(3)
    m = layer().double()
    x = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)
    params = list(m.parameters())

    def f(x, *ps):
        return m(x)

    assert cr.autograd.gradcheck(f, (x, *params))


def test_batchnorm_running_stats_and_eval():
    cr.manual_seed(0)
    bn = nn.BatchNorm1d(2, momentum=0.5).double()
    x = cr.randn(16, 2, dtype=cr.float64) * 3 + 1
    y = bn(x).detach().numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(0), 1, atol=1e-3)
    xs = x.numpy()
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * xs.mean(0))
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * xs.var(0, ddof=1))
    bn.eval()
    expected = (xs - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), expected)


def test_batchnorm_momentum_none_keeps_the_plain_average_of_the_batches():
    """PyTorch's cumulative moving average: with momentum=None the running mean is the mean of
    the batches' means, the running variance the mean of their unbiased variances."""
    bn = nn.BatchNorm1d(3, momentum=None).double()
    batches = [np.random.default_rng(i).standard_normal((5, 3)) * (i + 1) + i for i in range(4)]
    for x in batches:
        bn(cr.tensor(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in batches], 0))
    expected_var = np.mean([x.var(0, ddof=1) for x in batches], 0)
    np.testing.assert_allclose(bn.running_var.numpy(), expected_var)
    assert int(bn.num_batches_tracked.item()) == 4


def test_layers_take_pytorchs_constructor_arguments():
    """``inplace`` (computed out of place: the same result, the input keeps its values),
    ``device`` before ``dtype`` as in PyTorch's order, and Identity's ignored arguments."""
    x = cr.tensor([[-1.0, 2.0, -3.0]])
    before = x.numpy().copy()
    x4 = x.reshape(1, 3, 1, 1)
    for module, given, expected in (
        (nn.ReLU(inplace=True), x, nn.functional.relu(x)),
        (nn.LeakyReLU(0.2, inplace=True), x, nn.functional.leaky_relu(x, 0.2)),
        (nn.ELU(0.5, inplace=True), x, nn.functional.elu(x, 0.5)),
        (nn.Dropout(0.3, inplace=True).eval(), x, x),
        (nn.Dropout2d(0.3, inplace=True).eval(), x4, x4),
        (nn.Identity(54, unused_argument=0.1), x, x),
    ):
        np.testing.assert_array_equal(module(given).numpy(), expected.numpy())
        np.testing.assert_array_equal(x.numpy(), before)
    fn = nn.functional
    for got, expected in (
        (fn.relu(x, inplace=True), fn.relu(x)),
        (fn.leaky_relu(x, 0.2, inplace=True), fn.leaky_relu(x, 0.2)),
        (fn.elu(x, 0.5, inplace=True), fn.elu(x, 0.5)),
        (fn.dropout(x, 0.3, False, inplace=True), x),
    ):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(x.numpy(), before)
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert nn.Linear(3, 4, True, None, cr.float64).weight.dtype == cr.float64
    for layer in (
        nn.Linear(3, 4, device="cpu"),
        nn.Conv2d(1, 2, 3, device="strict"),
        nn.BatchNorm2d(2, device="strict"),
        nn.LayerNorm(3, device="strict"),
    ):
        where = "cpu" if isinstance(layer, nn.Linear) else "strict:0"
        assert all(str(t.device) == where for t in layer.state_dict().values()), layer


torch = pytest.importorskip("torch")


def _to_torch(m_cr, m_t):
    m_t.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in m_cr.state_dict().items()}
    )


@pytest.mark.parametrize(
    "make",
    [
        (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3)),
        (
            lambda: nn.MLP(5, [7], 3),
            lambda: torch.nn.Sequential(
                torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)
            ),
        ),
        (
            lambda: nn.MLP(5, [7, 6], 3, activation="tanh"),
            lambda: torch.nn.Sequential(
                torch.nn.Linear(5, 7),
                torch.nn.Tanh(),
                torch.nn.Linear(7, 6),
                torch.nn.Tanh(),
                torch.nn.Linear(6, 3),
            ),
        ),
        (lambda: nn.BatchNorm1d(5), lambda: torch.nn.BatchNorm1d(5)),
        (lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5)),
    ],
)
def test_same_outputs_and_gradients_as_pytorch(make):
    cr.manual_seed(0)
    m_cr, m_t = make[0]().double(), make[1]().double()
    _to_torch(m_cr, m_t)
    x = np.random.default_rng(0).standard_normal((6, 5))
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yc, yt = m_cr(xc), m_t(xt)
    g = np.random.default_rng(1).standard_normal(yc.shape)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    yc.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    tgrads = dict(m_t.named_parameters())
    for name, p in m_cr.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, b in m_t.named_buffers():
        np.testing.assert_allclose(m_cr.state_dict()[name].numpy(), b.numpy(), rtol=1e-10)


def test_l2_penalty_is_one_node_with_the_gradient_two_w():
    a = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    b = cr.randn(5, dtype=cr.float64, requires_grad=True)
    r = nn.l2_penalty([a, b])
    assert r.grad_fn.next_functions == ((None, 0), (None, 0))  # one op over both leaves
    expected = (a.detach().numpy() ** 2).sum() + (b.detach().numpy() ** 2).sum()
    assert r.item() == pytest.approx(expected, rel=1e-12)
    assert cr.autograd.gradcheck(lambda a, b: nn.l2_penalty([a, b]), (a, b))
    assert cr.autograd.gradgradcheck(lambda a, b: nn.l2_penalty([a, b]), (a, b))
    r.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * a.detach().numpy())


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("special", [None, "nan", "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type, special, max_norm):
    """The total norm returned and the gradients after, with a NaN or an infinite gradient
    entry too (PyTorch then scales every gradient by NaN or by 0)."""
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in ((3, 4), (5,), ())]
    if special is not None:
        grads[1][2] = float(special)
    ours = [cr.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = cr.tensor(g.copy()), torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def _shared_net(lib):
    """A module held under two names, a tied parameter, a re-assigned parameter, a container
    and buffers, in chainrule or PyTorch."""
    mods = lib.nn

    class Net(mods.Module):
        def __init__(self):
            super().__init__()
            self.a = mods.Linear(3, 4)
            self.seq = mods.Sequential(mods.Linear(4, 4), mods.ReLU(), mods.Linear(4, 3))
            self.b = self.a  # the same module under a second name
            self.head = mods.Linear(3, 4)
            self.head.weight = self.a.weight  # a tied parameter
            self.seq[2].weight = mods.Parameter(lib.zeros(3, 4))  # a new one in the old place
            self.lst = mods.ModuleList([mods.Tanh(), self.seq[0]])
            self.register_buffer("buf", lib.zeros(2))
            self.register_buffer("tmp", lib.zeros(1), persistent=False)
            self.register_buffer("tmp", lib.ones(1))  # registered again: now persistent

    return Net()


def test_shared_modules_traverse_as_pytorchs():
    """state_dict names a shared module under each of its names (so a PyTorch checkpoint of a
    weight-tied model loads); children, named_children and apply visit it once; a parameter
    assigned again keeps its place."""
    ours, theirs = _shared_net(cr), _shared_net(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict(prefix="m.")) == list(theirs.state_dict(prefix="m."))
    for walk in ("named_children", "named_modules", "named_parameters", "named_buffers"):
        assert [n for n, _ in getattr(ours, walk)()] == [n for n, _ in getattr(theirs, walk)()]
    visits: dict = {"ours": [], "theirs": []}
    ours.apply(lambda m: visits["ours"].append(type(m).__name__))
    theirs.apply(lambda m: visits["theirs"].append(type(m).__name__))
    assert visits["ours"] == visits["theirs"]
    # PyTorch's checkpoint of the tied model loads strictly, into the shared tensors
    state = {k: v.numpy().copy() for k, v in theirs.state_dict().items()}
    state["a.weight"] = state["b.weight"] = state["head.weight"] = np.full((4, 3), 0.5, "f4")
    ours.load_state_dict(state)
    assert ours.head.weight is ours.a.weight is ours.b.weight
    np.testing.assert_array_equal(ours.head.weight.detach().numpy(), state["a.weight"])
    assert ours.get_submodule("seq.2") is ours.seq[2]
    assert ours.get_submodule("") is ours
    with pytest.raises(AttributeError, match="seq has no sub-module 'nine'"):
        ours.get_submodule("seq.nine")


def test_named_modules_takes_pytorch_s_memo_prefix_and_remove_duplicate():
    torch = pytest.importorskip("torch")

    def build(lib):
        shared = lib.Linear(2, 2)
        return lib.Sequential(shared, lib.ReLU(), shared, lib.Sequential(lib.Tanh(), shared))

    for remove in (True, False):
        ours = [n for n, _ in build(nn).named_modules(remove_duplicate=remove)]
        theirs = [n for n, _ in build(torch.nn).named_modules(remove_duplicate=remove)]
        assert ours == theirs
    model = build(nn)
    memo = {model[1]}  # by position, as PyTorch's: memo, then prefix
    assert [n for n, _ in model.named_modules(memo, "top")] == ["top", "top.0", "top.3", "top.3.0"]
    assert len(memo) == 5


def _shape_of(container):
    """A container's children as (name, kind) pairs, in order: what PyTorch's and ours share."""
    return [(name, type(m).__name__) for name, m in container.named_children()]


@pytest.mark.parametrize(
    "ops",
    [
        lambda c, lib: c.__setitem__(1, lib.Tanh()),
        lambda c, lib: c.__delitem__(1),
        lambda c, lib: c.__delitem__(slice(0, 2)),
        lambda c, lib: c.insert(1, lib.Sigmoid()),
        lambda c, lib: c.extend([lib.Tanh(), lib.Sigmoid()]),
        lambda c, lib: c.pop(-1),
        lambda c, lib: c.append(lib.Tanh()),
    ],
    ids=["setitem", "delitem", "delitem-slice", "insert", "extend", "pop", "append"],
)
@pytest.mark.parametrize("kind", ["Sequential", "ModuleList"])
def test_numbered_containers_change_as_pytorch_s(ops, kind):
    torch = pytest.importorskip("torch")
    shapes = []
    for lib in (nn, torch.nn):
        layers = [lib.Linear(2, 2), lib.ReLU(), lib.Linear(2, 2)]
        c = getattr(lib, kind)(*layers) if kind == "Sequential" else lib.ModuleList(layers)
        ops(c, lib)
        shapes.append((_shape_of(c), list(c.state_dict())))
    assert shapes[0] == shapes[1]


def test_sequential_adds_and_repeats_as_pytorch_s():
    torch = pytest.importorskip("torch")
    shapes = []
    for lib in (nn, torch.nn):
        a, b = lib.Sequential(lib.Linear(2, 2), lib.ReLU()), lib.Sequential(lib.Tanh())
        both = a + b
        twice = 2 * b
        a += b
        b *= 3
        shapes.append([_shape_of(x) for x in (both, twice, a, b)])
        assert both[0] is a[0] and twice[0] is twice[1]  # the same modules, not copies
    assert shapes[0] == shapes[1]
    with pytest.raises(TypeError, match="non-negative int"):
        nn.Sequential(nn.ReLU()) * -1


def test_module_dict_pop_update_and_clear():
    d = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Tanh()})
    relu = d.pop("a")
    assert isinstance(relu, nn.ReLU) and list(d) == ["b"]
    d.update({"c": nn.Sigmoid()})
    d.update([("d", nn.Identity())])
    assert list(d) == ["b", "c", "d"]
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == []
