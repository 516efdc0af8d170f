// Scores of held-out probe predictions: accuracy, balanced accuracy and the majority-class chance level for
// classes; AUROC for binary scores (the Mann–Whitney statistic, ties counted half); R² for regression.

/** Fraction of predictions equal to the truth. */
export function accuracy(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (truth.length === 0) return Number.NaN;
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) hits++;
  return hits / truth.length;
}

/** Accuracy within each true class: class value → [hits, count]. */
export function perClassAccuracy(predicted: ArrayLike<number>, truth: ArrayLike<number>): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  for (let i = 0; i < truth.length; i++) {
    const entry = out.get(truth[i]!) ?? [0, 0];
    if (predicted[i] === truth[i]) entry[0]++;
    entry[1]++;
    out.set(truth[i]!, entry);
  }
  return out;
}

/** Mean over true classes of the accuracy within the class (recall), so a majority-class guess scores 1/K. */
export function balancedAccuracy(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  const per = perClassAccuracy(predicted, truth);
  if (per.size === 0) return Number.NaN;
  let s = 0;
  for (const [hits, count] of per.values()) s += hits / count;
  return s / per.size;
}

/** Accuracy of always predicting the most frequent class of `reference` (the training labels), scored on `truth`. */
export function majorityChance(reference: ArrayLike<number>, truth: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < reference.length; i++) counts.set(reference[i]!, (counts.get(reference[i]!) ?? 0) + 1);
  let best = Number.NaN;
  let bestCount = -1;
  for (const [value, count] of counts) {
    if (count > bestCount) {
      best = value;
      bestCount = count;
    }
  }
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === best) hits++;
  return truth.length === 0 ? Number.NaN : hits / truth.length;
}

/**
 * Area under the ROC curve of `scores` for the positive labels (label 1) against the rest: the probability that
 * a random positive scores above a random negative, ties counting half. NaN when either class is missing.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based; tied scores share the mean rank
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Coefficient of determination of `predicted` for `truth`: 1 − SSE/SST (0 = predicting the mean; can be negative). */
export function rSquared(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  const n = truth.length;
  if (n === 0) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i]!;
  mean /= n;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    sse += (truth[i]! - predicted[i]!) ** 2;
    sst += (truth[i]! - mean) ** 2;
  }
  return sst === 0 ? Number.NaN : 1 - sse / sst;
}

/** Pearson correlation of two equally long series (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n < 2) return Number.NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}
