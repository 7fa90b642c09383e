"""hw07_autodiff: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code.

A mistake in one of ``Node``'s methods is a subclass of the reference's ``Node`` that overrides
that method: the student hands in the whole ``Node`` cell, the reference's with that method changed."""

import torch

from course.build.samples import alternative, bug
from solutions.hw07_autodiff.reference import Node, log_softmax, unbroadcast


# ---- unbroadcast (q1), and the engine's broadcasting (q4)
@bug("unbroadcast sums the added leading axes only, not the stretched ones", replaces="unbroadcast",
     fails=("q1/arange_24_as_2_3_4_to_shape_3_1_60_92_124",
           "q1/a_leading_axis_and_a_stretched_one_4_5_3_to_5_1", "q1/stretched_axes_only_2_3_to_1_3",
           "q1/every_axis_stretched_3_4_to_1_1"))
def unbroadcast_sums_the_added_leading(g: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    while g.dim() > len(shape):
        g = g.sum(dim=0)
    return g


@bug("the VJPs of * do not unbroadcast", replaces="Node",
     fails=("q4/broadcasting_a_0_d_node_times_a_vector", "q4/broadcasting_a_vector_3_times_a_4_3_matrix"))
class TheVjpsOfDoNotUnbroadcast(Node):
    def __mul__(self, other) -> "Node":
        r"""$z = x \odot y$, elementwise with broadcasting (``other`` may be a number): $z$ has the
        broadcast shape of $x$ and $y$.

        Its VJP maps the gradient of $z$ to the gradient of each operand, reduced to that operand's
        shape with ``unbroadcast``.
        """
        other = Node._lift(other)
        # VJPs: g -> g * y for x and g -> g * x for y, each summed back to its operand's shape.
        return Node(self.value * other.value, [
            (self, lambda g: g * other.value),
            (other, lambda g: g * self.value),
        ])


# ---- log_softmax (q2); the engine's losses at logits of 1000 (q6) are built on it
@bug("log_softmax without subtracting the row maximum", replaces="log_softmax",
     fails=("q2/1000_1001_1002_2_4076059644443806_1_4076059644443804_0_40760",
           "q2/rows_spread_from_1000_to_1000", "q2/very_negative_logits", "q2/a_single_class_all_zeros",
           "q6/log_softmax_of_logits_near_1000", "q6/cross_entropy_y_of_logits_near_1000"))
def log_softmax_without_subtracting_the(z: torch.Tensor) -> torch.Tensor:
    return z - z.exp().sum(dim=-1, keepdim=True).log()


@bug("the VJP of .log_softmax() forgets the row sum (g - softmax)", replaces="Node",
     fails=("q6/log_softmax_of_logits_near_1000",))
class TheVjpOfLogSoftmaxForgetsThe(Node):
    def log_softmax(self) -> "Node":
        r"""Row-wise log-softmax of logits $z$ $(N, C)$, with the stable ``log_softmax`` above: the
        result is $(N, C)$.

        Its VJP maps the gradient of the result, $(N, C)$, to the gradient of $z$, $(N, C)$. Each
        row of the result depends on every entry of the same row of $z$, and on no other row. It
        may reuse the value computed in the forward pass.
        """
        out = log_softmax(self.value)
        # With p = exp(out) (the softmax), a row's Jacobian is I - 1 p^T, so the VJP is
        # g -> g - p * (g summed over its row, broadcast back along the row).
        return Node(out, [(self, lambda g: g - out.exp())])


# ---- backward and grad (q3)
@bug("backward overwrites parent.grad instead of accumulating", replaces="Node",
     fails=("q3/x_3_2x_2_x_at_2_18_21", "q3/a_node_used_twice_x_x_x_at_3_12_7",
           "q3/a_diamond_u_x_2_and_u_3_u_at_2_16_16", "q3/a_diamond_u_x_y_and_u_exp_u_sigmoid_at_1_0_5",
           "q3/a_product_feeding_three_nodes_vectors", "q3/a_ladder_of_12_rungs_each_node_used_twice",
           "q3/one_input_used_ten_times", "q3/matrices_used_in_several_branches", "q3/8_diamonds_in_a_row"))
class BackwardOverwritesParentGrad(Node):
    def backward(self) -> None:
        r"""Fill ``grad`` of every node this 0-d node was computed from.

        Seed ``self.grad`` with 1 ($\partial L / \partial L$). Then visit each node once, in
        reverse topological order (a node only after every node that uses it), and send its
        gradient to each parent through that parent's VJP. Accumulate with ``+=``: a node used
        by several others receives a gradient from each (the multivariate chain rule). Find the
        order without recursion (a depth-first search with your own stack): a chain of 100,000
        nodes must work.
        """
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)  # after all of its parents: a topological order
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack += [(parent, False) for parent, _ in node.parents if id(parent) not in seen]
        self.grad = torch.ones_like(self.value)
        for node in reversed(order):
            for parent, vjp in node.parents:
                parent.grad = vjp(node.grad)


@bug("backward sorts the graph recursively (the 100,000-deep chain overflows the stack)", replaces="Node",
     fails=("q3/x_times_1_00001_100_000_times_at_1_value_and_gradient_2_7182",))
class BackwardSortsTheGraphRecursively(Node):
    def backward(self) -> None:
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for parent, _ in node.parents:
                    visit(parent)
                order.append(node)
        visit(self)
        self.grad = torch.ones_like(self.value)
        for node in reversed(order):
            for parent, vjp in node.parents:
                parent.grad += vjp(node.grad)


@bug("backward pushes each node's running total to its parents, in no topological order", replaces="Node",
     fails=("q3/a_diamond_u_x_2_and_u_3_u_at_2_16_16", "q3/a_diamond_u_x_y_and_u_exp_u_sigmoid_at_1_0_5",
           "q3/a_product_feeding_three_nodes_vectors", "q3/a_ladder_of_12_rungs_each_node_used_twice",
           "q3/matrices_used_in_several_branches", "q3/8_diamonds_in_a_row"))
class BackwardPushesEachNodeSRunning(Node):
    def backward(self) -> None:
        self.grad = torch.ones_like(self.value)
        stack = [self]
        while stack:
            node = stack.pop()
            for parent, vjp in node.parents:
                parent.grad += vjp(node.grad)
                stack.append(parent)


# ---- + - * / ** and negation (q4)
@bug("the VJP of unary minus forgets the sign", replaces="Node",
     fails=("q4/python_numbers_on_both_sides_x_2_5_y_4_z", "q4/a_b_c_2_on_matrices", "q4/scalars_3_a_b_c_2_1"))
class TheVjpOfUnaryMinusForgetsThe(Node):
    def __neg__(self) -> "Node":
        r"""$y = -x$, elementwise, shaped like $x$.

        Its VJP maps the gradient of $y$ to the gradient of $x$, of $x$'s shape.
        """
        return Node(-self.value, [(self, lambda g: g)])  # VJP: g -> -g


# ---- matrices and reductions (q5)
@bug("mean divides by the number of rows, not of entries", replaces="Node",
     fails=("q5/the_mean_of_a_3_x_5_matrix_divides_by_all_15_entries", "q5/the_mean_of_a_b_t",
           "q5/central_differences_agree_with_the_gradients_of_matrix_param"))
class MeanDividesByTheNumberOfRows(Node):
    def mean(self) -> "Node":
        r"""The mean of every entry of $x$, a 0-d node: $\frac{1}{n} \sum_i x_i$ with $n$ the number
        of entries (all of them, not the rows).

        Its VJP maps the 0-d gradient of the mean to the gradient of $x$, a tensor of $x$'s shape.
        """
        shape, n = self.value.shape, self.value.shape[0]
        # VJP: g / n in every entry.
        return Node(self.value.mean(), [(self, lambda g: g.expand(shape) / n)])


# ---- activations (q6)
@bug("relu with slope 1 at 0", replaces="Node",
     fails=("q6/hw06_s_network_and_squared_error_6_25_dw1_0_0_10_20_0_0_db1_",
           "q6/relu_at_integers_zeros_among_them_slope_0_at_0",
           "q6/relu_then_tanh_after_an_integer_product_with_exact_zeros"))
class ReluWithSlope1At0(Node):
    def relu(self) -> "Node":
        r"""$y = \max(x, 0)$ elementwise, shaped like $x$.

        Its VJP maps the gradient of $y$ to the gradient of $x$, of $x$'s shape. At $x = 0$ take
        the slope to be 0, as PyTorch does.
        """
        return Node(torch.relu(self.value), [(self, lambda g: g * (self.value >= 0))])  # VJP: g -> g [x > 0]


@bug("tanh's derivative as 1 - tanh instead of 1 - tanh^2", replaces="Node",
     fails=("q6/tanh", "q6/tanh_log_exp_and_sigmoid_stacked",
           "q6/relu_then_tanh_after_an_integer_product_with_exact_zeros"))
class TanhSDerivativeAs1TanhInstead(Node):
    def tanh(self) -> "Node":
        r"""$t = \tanh x$ elementwise, shaped like $x$.

        Its VJP maps the gradient of $t$ to the gradient of $x$, of $x$'s shape; it may reuse $t$.
        """
        t = torch.tanh(self.value)
        # VJP: g -> g * (1 - t^2), from the saved forward value.
        return Node(t, [(self, lambda g: g * (1 - t))])


# ---- train_mlp (q7)
@bug("train_mlp records each loss after its update", replaces="train_mlp",
     fails=("q7/4_points_2_classes_5_steps_of_lr_0_1_the_losses_each_before_",
           "q7/the_spiral_600_steps_the_losses_of_the_same_descent_driven_b", "q7/one_step_one_loss",
           "q7/random_data_10_samples_5_features_4_classes_20_steps"))
def train_mlp_records_each_loss_after(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor, lr: float, steps: int) -> list[float]:
    params = [W1, b1, W2, b2]
    losses = []
    for _ in range(steps):
        nodes = [Node(p) for p in params]
        w1, c1, w2, c2 = nodes
        ((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y).backward()
        params = [p - lr * n.grad for p, n in zip(params, nodes)]
        w1, c1, w2, c2 = [Node(p) for p in params]
        losses.append(((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y).value.item())
    return losses


@bug("train_mlp updates the caller's parameters in place", replaces="train_mlp",
     fails=("q7",))
def train_mlp_updates_the_caller_s(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor, lr: float, steps: int) -> list[float]:
    losses = []
    for _ in range(steps):
        nodes = [Node(p) for p in (W1, b1, W2, b2)]
        w1, c1, w2, c2 = nodes
        loss = ((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y)
        loss.backward()
        losses.append(loss.value.item())
        for p, n in zip((W1, b1, W2, b2), nodes):
            p -= lr * n.grad
    return losses

# Correct answers written differently from the reference: they keep full marks.


@alternative("an engine with Kahn's algorithm (counting each node's consumers) and its own VJPs", replaces="Node")
class KahnNode:
    def __init__(self, value, parents=(), constant=False):
        self.value = torch.as_tensor(value, dtype=torch.float64)
        self.grad = torch.zeros_like(self.value)
        self.parents = [(p, f) for p, f in parents if not p.constant]
        self.constant = constant or (len(parents) > 0 and not self.parents)

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Node) else Node(x, constant=True)

    @property
    def shape(self):
        return self.value.shape

    def _unary(self, value, local):
        # local: the elementwise derivative, multiplied into the upstream gradient
        return Node(value, [(self, lambda g: g * local)])

    def __add__(self, other):
        other = Node._lift(other)
        return Node(self.value + other.value, [(self, lambda g: unbroadcast(g, self.value.shape)),
                                               (other, lambda g: unbroadcast(g, other.value.shape))])

    def __radd__(self, other):
        return self + other

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Node._lift(other))

    def __rsub__(self, other):
        return Node._lift(other) + (-self)

    def __mul__(self, other):
        other = Node._lift(other)
        a, b = self.value, other.value
        return Node(a * b, [(self, lambda g: unbroadcast(g * b, a.shape)),
                            (other, lambda g: unbroadcast(g * a, b.shape))])

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * Node._lift(other) ** -1

    def __rtruediv__(self, other):
        return Node._lift(other) * self ** -1

    def __pow__(self, p):
        x = self.value
        return self._unary(x ** p, p * x ** (p - 1))

    def __matmul__(self, other):
        other = Node._lift(other)
        a, b = self.value, other.value
        return Node(torch.matmul(a, b), [(self, lambda g: torch.matmul(g, b.transpose(0, 1))),
                                         (other, lambda g: torch.matmul(a.transpose(0, 1), g))])

    def __rmatmul__(self, other):
        return Node._lift(other) @ self

    @property
    def T(self):
        return Node(self.value.transpose(0, 1), [(self, lambda g: g.transpose(0, 1))])

    def exp(self):
        e = torch.exp(self.value)
        return self._unary(e, e)

    def log(self):
        return self._unary(torch.log(self.value), 1 / self.value)

    def relu(self):
        positive = (self.value > 0).to(self.value.dtype)
        return self._unary(self.value * positive, positive)

    def sigmoid(self):
        s = 1 / (1 + torch.exp(-self.value))
        return self._unary(s, s - s * s)

    def tanh(self):
        th = torch.tanh(self.value)
        return self._unary(th, 1 - th ** 2)

    def sum(self):
        x = self.value
        return Node(x.sum(), [(self, lambda g: torch.ones_like(x) * g)])

    def mean(self):
        return self.sum() * (1.0 / self.value.numel())

    def log_softmax(self):
        out = log_softmax(self.value)
        p = torch.exp(out)
        return Node(out, [(self, lambda g: g - p * g.sum(-1, keepdim=True))])

    def cross_entropy(self, y):
        N = self.value.shape[0]
        onehot = torch.nn.functional.one_hot(y, self.value.shape[1]).to(self.value.dtype)
        logp = log_softmax(self.value)
        loss = -(logp * onehot).sum() / N
        return Node(loss, [(self, lambda g: g * (torch.exp(logp) - onehot) / N)])

    def backward(self):
        consumers: dict[int, int] = {}
        todo, seen = [self], {id(self)}
        while todo:
            node = todo.pop()
            for parent, _ in node.parents:
                consumers[id(parent)] = consumers.get(id(parent), 0) + 1
                if id(parent) not in seen:
                    seen.add(id(parent))
                    todo.append(parent)
        self.grad = torch.ones_like(self.value)
        ready = [self]
        while ready:
            node = ready.pop()
            for parent, vjp in node.parents:
                parent.grad = parent.grad + vjp(node.grad)
                consumers[id(parent)] -= 1
                if consumers[id(parent)] == 0:
                    ready.append(parent)


@alternative("unbroadcast axis by axis, from the right", replaces="unbroadcast")
def unbroadcast_axis_by_axis_from_the(g: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    shape = tuple(shape)
    out = g
    for axis in range(g.dim() - 1, -1, -1):
        k = axis - (g.dim() - len(shape))
        if k < 0:
            out = out.sum(dim=axis)
        elif shape[k] == 1 and g.shape[axis] != 1:
            out = out.sum(dim=axis, keepdim=True)
    return out.reshape(shape)


@alternative("log_softmax with torch.logsumexp", replaces="log_softmax")
def log_softmax_with_torch_logsumexp(z: torch.Tensor) -> torch.Tensor:
    return z - torch.logsumexp(z, dim=1, keepdim=True)


@alternative("train_mlp with the parameters as a dict of Nodes", replaces="train_mlp")
def train_mlp_with_the_parameters_as_a(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor, lr: float, steps: int) -> list[float]:
    theta = {'W1': W1.clone(), 'b1': b1.clone(), 'W2': W2.clone(), 'b2': b2.clone()}
    history = []
    for step in range(steps):
        n = {k: Node(v) for k, v in theta.items()}
        hidden = (X @ n['W1'].T + n['b1']).relu()
        loss = (hidden @ n['W2'].T + n['b2']).cross_entropy(y)
        history.append(float(loss.value))
        loss.backward()
        theta = {k: theta[k] - lr * n[k].grad for k in theta}
    return history
