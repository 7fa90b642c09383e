"""hw07_autodiff: realistic wrong answers, each with the points it must score, and other correct
answers that must keep full marks.  Sources are written as a student would write them in the
notebook (torch and math are imported there).

A mistake in one of ``Node``'s methods is the reference's class with that one method changed
(``node_with``): the notebook's whole ``Node`` cell is what a student hands in.
"""

import ast
from pathlib import Path

from course.build.samples import Bug

_REFERENCE = Path(__file__).with_name("reference.py").read_text(encoding="utf-8")
_NODE = next(ast.get_source_segment(_REFERENCE, node) for node in ast.parse(_REFERENCE).body
             if isinstance(node, ast.ClassDef) and node.name == "Node")


def node_with(old: str, new: str) -> str:
    """The reference's Node class with ``old`` (found exactly once) replaced by ``new``."""
    if _NODE.count(old) != 1:
        raise ValueError(f"not exactly once in Node: {old!r}")
    return _NODE.replace(old, new) + "\n"


RECURSIVE_BACKWARD = '''    def backward(self) -> None:
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
'''

PUSHING_BACKWARD = '''    def backward(self) -> None:
        self.grad = torch.ones_like(self.value)
        stack = [self]
        while stack:
            node = stack.pop()
            for parent, vjp in node.parents:
                parent.grad += vjp(node.grad)
                stack.append(parent)
'''


def _backward_replaced(new: str) -> str:
    start = _NODE.index("    def backward(self)")
    return _NODE[:start] + new + "\n"


BUGS = [
    # ---- unbroadcast (q1), and the engine's broadcasting (q4)
    Bug("unbroadcast sums the added leading axes only, not the stretched ones", "unbroadcast",
        "def unbroadcast(g, shape):\n"
        "    while g.dim() > len(shape):\n"
        "        g = g.sum(dim=0)\n"
        "    return g\n", {"q1": 1.5}),
    Bug("the VJPs of * do not unbroadcast", "Node",
        node_with("(self, lambda g: unbroadcast(g * other.value, self.value.shape)),\n"
                  "            (other, lambda g: unbroadcast(g * self.value, other.value.shape)),",
                  "(self, lambda g: g * other.value),\n"
                  "            (other, lambda g: g * self.value),"), {"q4": 5.0}),
    # ---- log_softmax (q2); the engine's losses at logits of 1000 (q6) are built on it
    Bug("log_softmax without subtracting the row maximum", "log_softmax",
        "def log_softmax(z):\n"
        "    return z - z.exp().sum(dim=-1, keepdim=True).log()\n", {"q2": 1.0, "q6": 6.0}),
    Bug("the VJP of .log_softmax() forgets the row sum (g - softmax)", "Node",
        node_with("lambda g: g - out.exp() * g.sum(dim=-1, keepdim=True)", "lambda g: g - out.exp()"),
        {"q6": 6.5}),
    # ---- backward and grad (q3)
    Bug("backward overwrites parent.grad instead of accumulating", "Node",
        node_with("\n                parent.grad += vjp(node.grad)", "\n                parent.grad = vjp(node.grad)"), {"q3": 2.5}),
    Bug("backward sorts the graph recursively (the 100,000-deep chain overflows the stack)", "Node",
        _backward_replaced(RECURSIVE_BACKWARD), {"q3": 10.0}),
    Bug("backward pushes each node's running total to its parents, in no topological order", "Node",
        _backward_replaced(PUSHING_BACKWARD), {"q3": 5.5}),
    # ---- + - * / ** and negation (q4)
    Bug("the VJP of unary minus forgets the sign", "Node",
        node_with("return Node(-self.value, [(self, lambda g: -g)])",
                  "return Node(-self.value, [(self, lambda g: g)])"), {"q4": 4.5}),
    # ---- matrices and reductions (q5)
    Bug("mean divides by the number of rows, not of entries", "Node",
        node_with("shape, n = self.value.shape, self.value.numel()",
                  "shape, n = self.value.shape, self.value.shape[0]"), {"q5": 3.75}),
    # ---- activations (q6)
    Bug("relu with slope 1 at 0", "Node",
        node_with("lambda g: g * (self.value > 0)", "lambda g: g * (self.value >= 0)"), {"q6": 4.5}),
    Bug("tanh's derivative as 1 - tanh instead of 1 - tanh^2", "Node",
        node_with("lambda g: g * (1 - t * t)", "lambda g: g * (1 - t)"), {"q6": 5.0}),
    # ---- train_mlp (q7)
    Bug("train_mlp records each loss after its update", "train_mlp",
        "def train_mlp(X, y, W1, b1, W2, b2, lr, steps):\n"
        "    params = [W1, b1, W2, b2]\n"
        "    losses = []\n"
        "    for _ in range(steps):\n"
        "        nodes = [Node(p) for p in params]\n"
        "        w1, c1, w2, c2 = nodes\n"
        "        ((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y).backward()\n"
        "        params = [p - lr * n.grad for p, n in zip(params, nodes)]\n"
        "        w1, c1, w2, c2 = [Node(p) for p in params]\n"
        "        losses.append(((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y).value.item())\n"
        "    return losses\n", {"q7": 3.0}),
    Bug("train_mlp updates the caller's parameters in place", "train_mlp",
        "def train_mlp(X, y, W1, b1, W2, b2, lr, steps):\n"
        "    losses = []\n"
        "    for _ in range(steps):\n"
        "        nodes = [Node(p) for p in (W1, b1, W2, b2)]\n"
        "        w1, c1, w2, c2 = nodes\n"
        "        loss = ((X @ w1.T + c1).relu() @ w2.T + c2).cross_entropy(y)\n"
        "        loss.backward()\n"
        "        losses.append(loss.value.item())\n"
        "        for p, n in zip((W1, b1, W2, b2), nodes):\n"
        "            p -= lr * n.grad\n"
        "    return losses\n", {"q7": 0.0}),
]

ALTERNATIVES = [
    Bug("an engine with Kahn's algorithm (counting each node's consumers) and its own VJPs", "Node", '''
class Node:
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
        consumers = {}
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
'''.lstrip()),
    Bug("unbroadcast axis by axis, from the right", "unbroadcast",
        "def unbroadcast(g, shape):\n"
        "    shape = tuple(shape)\n"
        "    out = g\n"
        "    for axis in range(g.dim() - 1, -1, -1):\n"
        "        k = axis - (g.dim() - len(shape))\n"
        "        if k < 0:\n"
        "            out = out.sum(dim=axis)\n"
        "        elif shape[k] == 1 and g.shape[axis] != 1:\n"
        "            out = out.sum(dim=axis, keepdim=True)\n"
        "    return out.reshape(shape)\n"),
    Bug("log_softmax with torch.logsumexp", "log_softmax",
        "def log_softmax(z):\n"
        "    return z - torch.logsumexp(z, dim=1, keepdim=True)\n"),
    Bug("train_mlp with the parameters as a dict of Nodes", "train_mlp",
        "def train_mlp(X, y, W1, b1, W2, b2, lr, steps):\n"
        "    theta = {'W1': W1.clone(), 'b1': b1.clone(), 'W2': W2.clone(), 'b2': b2.clone()}\n"
        "    history = []\n"
        "    for step in range(steps):\n"
        "        n = {k: Node(v) for k, v in theta.items()}\n"
        "        hidden = (X @ n['W1'].T + n['b1']).relu()\n"
        "        loss = (hidden @ n['W2'].T + n['b2']).cross_entropy(y)\n"
        "        history.append(float(loss.value))\n"
        "        loss.backward()\n"
        "        theta = {k: theta[k] - lr * n[k].grad for k in theta}\n"
        "    return history\n"),
]
