# Copyright 2026 xmodal_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Connect & explore (COX): a learner for a new sensor from frozen known-sensor perceptors.

Notation as in the paper: known ("in-modal", IM) features z_k = g_k(x_k) with heads h_k; the new
("out-of-modal", OOM) learner g^O with head h^O; one VIB connection per known sensor,
p(v | z_k) -> q(. | v), into the learner's feature space.

Choices where the paper is open (each repeated where it is made):
- The connection reconstructs the learner's features z^O = g^O(x^O) (footnote 3: "connect
  modalities in the feature space"), with the target detached: the connection follows the
  learner's space; the learner is shaped by the CE and KL terms only. A gradient through the
  target would let g^O and q collapse together onto a constant.
- h_k* on new-sensor samples: a linear head fitted on the connected known features q_k(v_k,i)
  with the known labels, then applied to z^O (the paper's Fig. 5 protocol). v_k,i is the
  encoder mean when mapping (sampling only where Eq. 9 is trained), so the mapping is
  deterministic.
- Disagreement samples are unlabelled new samples only (labelled ones are anchors already).
- Eq. 9's CE term and the CE term of Eqs. 13/15 are the same quantity on the same samples and
  are counted once.
"""
import torch
from torch import nn
from torch.nn import functional as F

from xmodal_training.methods.cox.configuration_cox import COXConfig
from xmodal_training.methods.cox.processor_cox import class_centroids
from xmodal_training.methods.new_sensor_core import (adam, build_learner, draw, predict,
                                                     ProblemError, progress_bar, Runtime, seeded,
                                                     steps_per_epoch)


# ---------------------------------------------------------------------------- loss terms

def vib_terms(recon, target, mu, logvar):
    """
    Return Eq. 9's reconstruction term and the VIB rate, each a mean over the batch.

    Reconstruction: ||z^O - q(v)||^2 summed over features.
    VIB rate: KL(N(mu, diag exp(logvar)) || N(0, I)) summed over v.
    """
    rec = ((recon.float() - target.float()) ** 2).sum(-1).mean()
    mu, logvar = mu.float(), logvar.float()
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(-1).mean()
    return rec, kl


def con_loss(recon, target, mu, logvar, logits, labels, kl_weight=0.0):
    """
    Compute Eq. 9, L_con, plus ``kl_weight`` times the VIB rate; return the terms by name.

    L_con = ||z^O_i - q(v_i)||^2 - log h^O(y_i | x^O_i), v_i ~ p(v | z_i^I);
    ``kl_weight`` 0 is Eq. 9 to the letter.
    """
    rec, kl = vib_terms(recon, target, mu, logvar)
    ce = F.cross_entropy(logits.float(), labels)
    return {'recon': rec, 'kl': kl, 'ce': ce, 'loss': rec + kl_weight * kl + ce}


def kl_matrix(logits_d, logits_a):
    """(B_d, B_a) KL(h^O(x_d) || h^O(x_a)) for every pair."""
    logp_d = F.log_softmax(logits_d.float(), -1)
    logp_a = F.log_softmax(logits_a.float(), -1)
    p_d = logp_d.exp()
    return (p_d * logp_d).sum(-1, keepdim=True) - p_d @ logp_a.T


def candidate_mask(candidates, anchor_labels):
    """
    Mark (B_d, B_a) where anchor a's label is among the known classifiers' predictions for x_d.

    ``candidates``: (K, B_d) argmax h_k*(x_d).
    """
    return (candidates.T.unsqueeze(-1) == anchor_labels.view(1, 1, -1)).any(1)


def exploration_kl(logits_d, logits_a, mask, normaliser, inner='sum'):
    """
    Compute the second term of Eqs. 13 and 15, the exploration KL.

    Sum over x_d of the KL(h^O(x_d) || h^O(x_a)) of its pairs in ``mask``, divided by
    ``normaliser`` (L + |D| for the full sets; callers estimating it from minibatches scale it so
    the expectation is the full-set value). ``inner``: 'sum' adds the pairs of each x_d (as
    written), 'mean' averages them. The anchor posteriors are targets: pass them detached.
    """
    if logits_d.shape[0] == 0 or logits_a.shape[0] == 0:
        return logits_d.sum() * 0.0
    per_pair = kl_matrix(logits_d, logits_a) * mask
    per_d = per_pair.sum(1)
    if inner == 'mean':
        per_d = per_d / mask.sum(1).clamp(min=1)
    return per_d.sum() / normaliser


def l_ssl(logits_l, labels_l, logits_d, candidates_d, normaliser, pairing='candidates',
          inner='sum'):
    """
    Compute Eq. 13, L_ssl.

    L_ssl = (1/L) sum_i CE(h^O(x_i), y_i)
        + 1/(L + |D|) sum_{x_d in D} sum_{i<=L} KL(h^O(x_d) || h^O(x_i); h_1*, h_2*).

    The labelled samples' posteriors enter the KL detached (anchors guide, Eq. 10). ``pairing``:
    'candidates' keeps the pairs whose anchor label one of the known classifiers predicts for x_d
    (how we read "; h_1*, h_2*"), 'all' keeps every pair. ``inner``: see ``exploration_kl``.
    """
    ce = F.cross_entropy(logits_l.float(), labels_l) if len(labels_l) else logits_l.sum() * 0.0
    if pairing == 'candidates':
        mask = candidate_mask(candidates_d, labels_l)
    else:
        mask = torch.ones(logits_d.shape[0], logits_l.shape[0], device=logits_l.device)
    explore = exploration_kl(logits_d, logits_l.detach(), mask, normaliser, inner)
    return {'ce': ce, 'explore': explore}


def l_uns(logits_a, labels_a, logits_d, candidates_d, normaliser, pairing='candidates',
          inner='sum'):
    """
    Compute Eq. 15, L_uns: Eq. 13's form on the emergent anchors.

    The labelled samples are replaced by the emergent anchors A = SORT_S(...), their labels y_i^I
    taken from the matched known rows.
    """
    return l_ssl(logits_a, labels_a, logits_d, candidates_d, normaliser, pairing, inner)


def mmd_rbf(x, y, sigma=None):
    """
    Return the biased (V-statistic) squared MMD between samples x (n, d) and y (m, d).

    The kernel is the RBF exp(-||a - b||^2 / (2 sigma^2)); sigma defaults to the median pairwise
    distance of the pooled samples (median heuristic).
    """
    x, y = x.float(), y.float()
    pooled = torch.cat([x, y])
    d2 = torch.cdist(pooled, pooled).pow(2)
    if sigma is None:
        off = d2[~torch.eye(len(pooled), dtype=torch.bool, device=d2.device)]
        sigma = float(off.median().clamp(min=1e-12).sqrt())
    k = torch.exp(-d2 / (2 * sigma ** 2))
    n = len(x)
    return float(k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean())


# ------------------------------------------------------------------------ set selection

def agreement_split(probs):
    """
    Split the new samples by whether the known classifiers agree (Eq. 10).

    ``probs`` (K, M, C) h_k*(x^O) -> (agree (M,) bool, predictions (K, M)).
    A = {x^O : h_1*(x^O) = ... = h_K*(x^O)}, D = its complement.
    """
    preds = probs.argmax(-1)
    agree = (preds == preds[:1]).all(0)
    return agree, preds


def _top(score, labels, t, balanced):
    """
    Return the positions of the ``t`` largest scores.

    ``balanced``: the t // C largest of every label (remainder to the best of the rest), so no
    class is left without anchors.
    """
    order = torch.argsort(score, descending=True, stable=True)
    if not balanced or len(order) <= t:
        return order[:t]
    classes = torch.unique(labels)
    per = t // len(classes)
    picked = [order[labels[order] == c][:per] for c in classes]
    chosen = torch.zeros(len(score), dtype=torch.bool, device=score.device)
    chosen[torch.cat(picked)] = True
    rest = order[~chosen[order]][:t - int(chosen.sum())]
    chosen[rest] = True
    return order[chosen[order]]


def sort_t(probs, t, balanced=False):
    """
    Select Eq. 14's anchors, A_sorted = SORT_T(A, (1/K) sum_k max h_k*(x^O)).

    They are the (at most) ``t`` agreement samples with the largest mean top probability, largest
    first (``balanced``: per class, see ``_top``). Returns (indices, labels argmax h_k*(x^O),
    scores).
    """
    agree, preds = agreement_split(probs)
    score = probs.max(-1).values.mean(0)
    rows = torch.nonzero(agree).squeeze(1)
    idx = rows[_top(score[rows], preds[0, rows], t, balanced)]
    return idx, preds[0, idx], score[idx]


def sort_s(z_new, mapped, known_labels, t, balanced=False):
    """
    Select the anchors of Eq. 15 by their distance to the connected known rows.

    A = SORT_S({(x_j^O, y_i^I)}, -min_i (1/K) sum_k ||z_j^O - v_k,i||).

    ``z_new`` (M, d) learner features, ``mapped`` (K, N, d) the known rows connected into that
    space, ``known_labels`` (N,). Returns (new indices, labels y_i*, matched known rows i*,
    distances), the ``t`` smallest distances first (``balanced``: per matched label).
    """
    dist = torch.stack([torch.cdist(z_new.float(), m.float()) for m in mapped]).mean(0)
    dmin, match = dist.min(1)
    order = _top(-dmin, known_labels[match], t, balanced)
    return order, known_labels[match[order]], match[order], dmin[order]


def fit_linear_head(features, labels, n_classes, steps, lr, init=None):
    """
    Return a linear softmax classifier fitted full-batch with Adam.

    It is the paper's "linear layer as classification heads"; ``init`` warm-starts it from the
    previous epoch's head.
    """
    head = nn.Linear(features.shape[1], n_classes).to(features.device)
    if init is not None:
        head.load_state_dict(init.state_dict())
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    feats = features.detach().float()
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.cross_entropy(head(feats), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return head.eval()


# ------------------------------------------------------------------------------- model

def _mlp(d_in, hidden, d_out):
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, d_out))


class VIBConnection(nn.Module):
    """
    One connection: a VIB from known features into the new sensor's feature space.

    Encoder p(v | z_k) = N(mu, diag sigma^2) and decoder q(. | v); v = mu + sigma * eps
    (reparameterised) while training.
    """

    def __init__(self, d_known, d_new, latent, hidden):
        super().__init__()
        self.encoder = _mlp(d_known, hidden, 2 * latent)
        self.decoder = _mlp(latent, hidden, d_new)

    def forward(self, z, sample=True):
        mu, logvar = self.encoder(z).chunk(2, -1)
        logvar = logvar.clamp(-10.0, 10.0)
        v = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return self.decoder(v), mu, logvar

    def connect(self, z):
        """Connect known rows into the new sensor's space: q(E[v | z]), no sampling."""
        return self.forward(z, sample=False)[0]


class COXModel(nn.Module):
    """
    Learner + connections; ``forward(batch)`` returns the loss terms by name.

    batch keys: 'x_pair' (B, ...) new inputs and 'z_pair' (list of K (B, d_k)) their
    corresponding known features (Eq. 9's reconstruction); 'x_anchor', 'y_anchor' labelled or
    anchor samples (CE); optionally 'x_d', 'cand_d' (K, B_d), 'normaliser' (exploration KL).
    """

    def __init__(self, learner, connections, cfg):
        super().__init__()
        self.learner = learner
        self.connections = connections
        self.cfg = cfg

    def forward(self, batch):
        cfg = self.cfg
        terms, loss = {}, 0.0
        if 'x_pair' in batch:
            with torch.no_grad():
                target = self.learner.features(batch['x_pair'])
            for k, conn in enumerate(self.connections):
                recon, mu, logvar = conn(batch['z_pair'][k])
                rec, kl = vib_terms(recon, target, mu, logvar)
                terms[f'recon/{k}'], terms[f'kl/{k}'] = rec, kl
                loss = loss + cfg.recon_weight * rec + cfg.kl_weight * kl
        logits_a = self.learner(batch['x_anchor'])
        logits_d = self.learner(batch['x_d']) if 'x_d' in batch else logits_a[:0]
        cand = batch.get('cand_d', torch.zeros(1, 0, dtype=torch.long, device=logits_a.device))
        parts = l_ssl(logits_a, batch['y_anchor'], logits_d, cand,
                      batch.get('normaliser', 1.0), cfg.kl_pairing, _INNER[cfg.explore_sum])
        terms.update(parts)
        terms['loss'] = loss + parts['ce'] + cfg.explore_weight * parts['explore']
        return terms


# ---------------------------------------------------------------------------- training

_INNER = {'written': 'sum', 'pair_mean': 'mean'}


def _add_disagreement(batch, tr, cfg, d_rows, preds, bsz, gen, n_labelled, n_anchor):
    """
    Add a draw of disagreement samples to ``batch`` for the exploration term, if there are any.

    Both procedures (semi-supervised and unsupervised) explore the same way; only the labelled
    set the normaliser counts differs.
    """
    if len(d_rows):
        d = d_rows[draw(len(d_rows), bsz, gen)]
        batch['x_d'] = tr.dev(d)
        batch['cand_d'] = preds[:, d.to(tr.rt.device)]
        batch['normaliser'] = _normaliser(cfg, n_labelled, len(d_rows), len(d), n_anchor)


def _normaliser(cfg, n_anchor_all, n_d_all, b_d, b_a):
    """
    Return the scale of a minibatch's exploration sum (Eqs. 13/15).

    Scaled, the sum's expectation is the full-set term
    1/(L + |D|) sum_{d in D} [sum | mean]_{a} KL.
    """
    full = n_anchor_all + n_d_all
    if cfg.explore_sum == 'written':
        return full * b_d * b_a / (n_d_all * n_anchor_all)
    return full * b_d / n_d_all


class _Trainer:
    """State shared by the two procedures: learner, connections, optimiser, per-epoch refresh."""

    def __init__(self, problem, encoder_factory, cfg, device, seed, progress):
        self.p, self.cfg, self.progress = problem, cfg, progress
        self.rt = Runtime(device)
        self.gen = seeded(seed)
        dev = self.rt.device
        self.x = problem.new_inputs
        learner = build_learner(encoder_factory, self.x, problem.n_classes)
        conns = nn.ModuleList(
            VIBConnection(z.shape[1], learner.feature_dim, cfg.latent_dim, cfg.hidden)
            for z in problem.known_features)
        self.model = COXModel(learner, conns, cfg).to(dev)
        self.opt = adam(self.model.parameters(), cfg.lr, cfg.weight_decay)
        self.zk = [z.float().to(dev) for z in problem.known_features]
        self.yk = problem.known_targets().to(dev)
        self.heads = [None] * problem.n_known
        self.curves = []

    @property
    def learner(self):
        return self.model.learner

    def dev(self, idx):
        return self.x[idx].to(self.rt.device)

    @torch.no_grad()
    def refresh(self):
        """
        Refit h_k* on the connected known rows; return the learner's view of the new samples.

        Returns z^O for every new sample, the connected known rows, and the agreement split of the
        new samples under the refitted h_k* (agree, predictions).
        """
        cfg, dev = self.cfg, self.rt.device
        z_new = predict(self.learner.encoder, self.x, dev).to(dev)
        self.model.eval()
        mapped = torch.stack([c.connect(z).float()
                              for c, z in zip(self.model.connections, self.zk)])
        self.model.train()
        self.heads = [fit_linear_head(m, self.yk, self.p.n_classes, cfg.head_steps, cfg.head_lr,
                                      init=h) for m, h in zip(mapped, self.heads)]
        probs = torch.stack([h(z_new).softmax(-1) for h in self.heads])
        agree, preds = agreement_split(probs)
        return z_new, mapped, agree, preds

    def log(self, epoch, phase, sums, n, z_new, mapped, agree, preds, extra=None):
        row = {'epoch': epoch + 1, 'phase': phase,
               **{k: v / max(n, 1) for k, v in sums.items()},
               'agree_fraction': float(agree.float().mean())}
        g = self.gen
        for k, m in enumerate(mapped):
            a = m[draw(len(m), self.cfg.mmd_samples, g)]
            b = z_new[draw(len(z_new), self.cfg.mmd_samples, g)]
            row[f'mmd/{k}'] = mmd_rbf(a, b)
        y = self.p.eval_labels
        if y is not None:
            y = y.to(self.rt.device)
            pred = predict(self.learner, self.x, self.rt.device).argmax(-1).to(y.device)
            hit = (pred == y).float()
            row['acc'] = float(hit.mean())
            row['acc_agree'] = float(hit[agree].mean()) if agree.any() else float('nan')
            row['acc_disagree'] = float(hit[~agree].mean()) if (~agree).any() else float('nan')
            for k in range(len(preds)):
                row[f'known_on_new_acc/{k}'] = float((preds[k] == y).float().mean())
            if (~agree).any():      # is the truth among the candidates the KL pairs x_d with?
                row['disagree_truth_in_candidates'] = float(
                    (preds == y).any(0)[~agree].float().mean())
        row.update(extra or {})
        self.curves.append(row)
        return row

    def step(self, batch):
        with self.rt.autocast():
            terms = self.model(batch)
        self.rt.step(self.opt, terms['loss'], list(self.model.parameters()), self.cfg.grad_clip)
        return {k: float(v.detach()) for k, v in terms.items()}

    def result(self):
        self.learner.cpu().eval()
        return self.learner, {'epochs': self.curves, 'summary': self._summary()}

    def _summary(self):
        rows = [r for r in self.curves if 'acc_agree' in r]
        if not rows:
            return {}
        # before: the learner and split at the end of the Eq. 9 / warm-up phase (or, with no
        # exploration epoch at all, at the end of training)
        marked = [r for r in rows if r['phase'] == 'before_explore']
        before = marked[0] if marked else rows[-1]
        after = rows[-1]
        return {'acc_agree_before': before['acc_agree'],
                'acc_disagree_before': before['acc_disagree'],
                'acc_agree_after': after['acc_agree'], 'acc_disagree_after': after['acc_disagree']}


def _accumulate(sums, terms, n):
    for k, v in terms.items():
        sums[k] = sums.get(k, 0.0) + v * n


def train_semi_supervised(problem, encoder_factory, cfg=None, device='auto', seed=0,
                          progress=True):
    """
    Train COX from a few correspondences (Sec. 3.3).

    Connect on the few correspondences (Eq. 9), then explore the unlabelled new samples on which
    the known classifiers disagree (Eq. 13).

    ``problem.pairs`` are the correspondences (new row, known row); their labels are
    ``problem.new_labels`` where given, else the known rows' labels. The first
    ``cfg.connect_epochs`` epochs train Eq. 9 alone; the exploration term joins after. Returns
    (learner, curves): curves['epochs'] one dict per epoch (loss terms, MMD between each
    connection's output and z^O, accuracies when ``problem.eval_labels`` is given),
    curves['summary'] accuracy on agreement vs disagreement samples before/after exploration.
    """
    cfg = cfg or COXConfig()
    if problem.pairs is None or len(problem.pairs) == 0:
        raise ProblemError('pairs: semi-supervised COX needs a few correspondences (new row, '
                           'known row), e.g. from episodes recorded with both sensors; without '
                           'any use train_unsupervised')
    tr = _Trainer(problem, encoder_factory, cfg, device, seed, progress)
    dev, gen, bsz = tr.rt.device, tr.gen, cfg.batch_size
    pairs = problem.pairs.long()
    new_l = pairs[:, 0]
    if problem.new_labels is not None and (problem.new_labels[new_l] >= 0).all():
        y_l = problem.new_labels[new_l].long()
    else:
        y_l = problem.known_targets()[pairs[:, 1]]
    y_l = y_l.to(dev)
    is_l = torch.zeros(len(tr.x), dtype=torch.bool)
    is_l[new_l] = True
    unl = torch.nonzero(~is_l).squeeze(1)
    n_anchor = min(len(new_l), 4 * bsz)
    for epoch in progress_bar(cfg.epochs, 'COX semi', progress):
        explore = epoch >= cfg.connect_epochs
        z_new, mapped, agree, preds = tr.refresh()
        d_rows = unl[~agree[unl.to(dev)].cpu()] if explore else unl[:0]
        if explore and epoch == cfg.connect_epochs:
            tr.log(epoch - 1, 'before_explore', {}, 1, z_new, mapped, agree, preds)
        sums, n = {}, 0
        for _ in range(steps_per_epoch(len(unl), bsz)):
            pick = draw(len(pairs), min(bsz, len(pairs)), gen)
            a = draw(len(new_l), n_anchor, gen)
            batch = {'x_pair': tr.dev(new_l[pick]),
                     'z_pair': [z[pairs[pick, 1].to(dev)] for z in tr.zk],
                     'x_anchor': tr.dev(new_l[a]), 'y_anchor': y_l[a.to(dev)]}
            _add_disagreement(batch, tr, cfg, d_rows, preds, bsz, gen, len(new_l), n_anchor)
            _accumulate(sums, tr.step(batch), 1)
            n += 1
        tr.log(epoch, 'explore' if explore else 'connect', sums, n, z_new, mapped, agree, preds,
               {'disagree_rows': len(d_rows)})
    tr.log(cfg.epochs - 1, 'final', {}, 1, *tr.refresh())
    return tr.result()


def train_unsupervised(problem, encoder_factory, cfg=None, device='auto', seed=0, progress=True):
    """
    Train COX without any correspondence, in two phases (Sec. 3.4).

    Warm-up: T = anchor_fraction * M anchors by SORT_T over the known classifiers' agreement on
    the new samples (Eq. 14; ``problem.known_probs_on_new``), CE on them; then each connection is
    fitted to map the known class centroids onto the learner's class centroids (centroid
    pairing). Then each epoch: connect every known row, take the T new samples nearest to the
    connected rows as emergent correspondences labelled with the matched known label (SORT_S),
    train L_uns (Eq. 15) on them and the disagreement set, and train the connections with Eq. 9
    on the emergent pairs. Returns (learner, curves) as ``train_semi_supervised``.
    """
    cfg = cfg or COXConfig()
    if problem.known_probs_on_new is None:
        raise ProblemError(
            "known_probs_on_new: unsupervised COX needs the known classifiers' predictions on "
            "the new samples (h_k*(x^O), Eq. 14), i.e. the new sensor's input made compatible "
            'with a known perceptor. Without that and without any pair, nothing says which '
            'class is which: record a few episodes with both sensors and use '
            'train_semi_supervised')
    tr = _Trainer(problem, encoder_factory, cfg, device, seed, progress)
    dev, gen, bsz, m = tr.rt.device, tr.gen, cfg.batch_size, len(tr.x)
    t = max(1, round(cfg.anchor_fraction * m))
    a0, y0, _ = sort_t(problem.known_probs_on_new.float(), t, cfg.balanced_anchors)
    y0 = y0.to(dev)
    warm = min(cfg.warmup_epochs, cfg.epochs)
    bar = progress_bar(cfg.epochs, 'COX unsup', progress)   # advanced by hand across phases
    it = iter(bar)
    for epoch in range(warm):
        next(it, None)
        sums, n = {}, 0
        for _ in range(steps_per_epoch(m, bsz)):
            a = draw(len(a0), min(bsz, len(a0)), gen)
            _accumulate(sums, tr.step({'x_anchor': tr.dev(a0[a]), 'y_anchor': y0[a.to(dev)]}), 1)
            n += 1
        tr.log(epoch, 'warmup', sums, n, *tr.refresh(), {'anchors': len(a0)})
    _fit_centroid_connections(tr)
    for epoch in range(warm, cfg.epochs):
        next(it, None)
        z_new, mapped, agree, preds = tr.refresh()
        if epoch == warm:
            tr.log(epoch - 1, 'before_explore', {}, 1, z_new, mapped, agree, preds)
        idx, y_a, match, _ = sort_s(z_new, mapped, tr.yk, t, cfg.balanced_anchors)
        idx, match = idx.cpu(), match.cpu()
        is_a = torch.zeros(m, dtype=torch.bool)
        is_a[idx] = True
        d_rows = torch.nonzero(~agree.cpu() & ~is_a).squeeze(1)
        n_anchor = min(len(idx), 4 * bsz)
        sums, n = {}, 0
        for _ in range(steps_per_epoch(m, bsz)):
            pick = draw(len(idx), min(bsz, len(idx)), gen)
            a = draw(len(idx), n_anchor, gen)
            batch = {'x_pair': tr.dev(idx[pick]),
                     'z_pair': [z[match[pick].to(dev)] for z in tr.zk],
                     'x_anchor': tr.dev(idx[a]), 'y_anchor': y_a[a.to(dev)]}
            _add_disagreement(batch, tr, cfg, d_rows, preds, bsz, gen, len(idx), n_anchor)
            _accumulate(sums, tr.step(batch), 1)
            n += 1
        extra = {'anchors': len(idx), 'disagree_rows': len(d_rows)}
        if problem.eval_labels is not None:
            extra['anchor_label_acc'] = float(
                (y_a.cpu() == problem.eval_labels[idx]).float().mean())
        tr.log(epoch, 'explore', sums, n, z_new, mapped, agree, preds, extra)
    bar.close()
    tr.log(cfg.epochs - 1, 'final', {}, 1, *tr.refresh())
    return tr.result()


def _fit_centroid_connections(tr):
    """
    Warm up the connections on class centroids (Sec. 3.4).

    The learner's class centroids (1/|C_y|) sum_{h^O(x)=y} z^O, each paired with the known class-y
    centroid of every known sensor, fitted with Eq. 9's reconstruction (+ the VIB rate; v sampled
    from p(v | centroid)). Classes without members on either side are left out.
    """
    cfg, dev = tr.cfg, tr.rt.device
    z_new = predict(tr.learner.encoder, tr.x, dev).to(dev)
    pred = predict(tr.learner, tr.x, dev).argmax(-1).to(dev)
    c_new, has_new = class_centroids(z_new, pred, tr.p.n_classes)
    for conn, z in zip(tr.model.connections, tr.zk):
        c_k, has_k = class_centroids(z, tr.yk, tr.p.n_classes)
        keep = has_new & has_k
        opt = adam(conn.parameters(), cfg.lr, cfg.weight_decay)
        for _ in range(cfg.centroid_steps):
            recon, mu, logvar = conn(c_k[keep])
            rec, kl = vib_terms(recon, c_new[keep], mu, logvar)
            tr.rt.step(opt, cfg.recon_weight * rec + cfg.kl_weight * kl, list(conn.parameters()))
