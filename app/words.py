"""One-line explanations of the terms the pages show, for `help=` tooltips and short captions, so a
student meets every term with its meaning where it appears."""
from __future__ import annotations

TERMS = {
    "code": "The code (latent vector): the few numbers the encoder squeezes a 784-pixel digit into; the "
            "decoder rebuilds the digit from them alone.",
    "loss": "Loss: how far each reconstruction is from its input, summed over the 784 pixels and averaged "
            "over the images; lower is better.",
    "test loss": "Test loss: the same loss on test digits the model never trained on, summed over the 784 "
                 "pixels, per image.",
    "recon": "recon: the reconstruction part of the loss (binary cross-entropy summed over 784 pixels, per image).",
    "kl": "KL: how far the encoder's code distribution is from the N(0, I) prior, summed over the code's "
          "dimensions, per image. A VAE adds it to its loss, so a VAE's loss is not comparable with a plain "
          "autoencoder's.",
    "sparsity": "sparsity: a penalty for hidden units that are often active; it pushes most of them towards zero.",
    "contraction": "contraction: a penalty on how much the code moves when the input moves a little.",
    "xent": "xent: cross-entropy of the predicted digit class (the fine-tuning loss), per image.",
    "accuracy": "accuracy: the share of test digits whose class the network predicts correctly.",
    "validation": "Validation digits: held out of training and scored after every epoch, to see whether the "
                  "model generalises or only memorises.",
    "epoch": "Epoch: one pass over all the training digits.",
    "N(0, I)": "N(0, I): the VAE's prior, a standard normal distribution in every code dimension, independent "
               "of each other. Sampling from it and decoding makes new digits.",
    "K&W quantiles": "Kingma & Welling's grid: codes at evenly spaced probabilities of the N(0, I) prior "
                     "(normal quantiles), so every tile is about as likely under the prior.",
    "probe digits": "Probe digits: a fixed set of 1,000 test digits whose codes are recorded after every "
                    "epoch, so the same digits can be followed as the space forms.",
    "PCA-2": "PCA-2: codes of more than two numbers flattened to the two directions in which they vary "
             "most (principal component analysis), to draw them on a plane.",
    "PCA": "PCA: the linear projection onto the two directions of largest variance; distances keep their meaning.",
    "t-SNE": "t-SNE: a non-linear map that keeps each digit's nearest neighbours close; distances between "
             "clusters and cluster sizes mean little.",
    "UMAP": "UMAP: a non-linear map like t-SNE that keeps neighbours close and more of the global layout; "
            "distances between clusters still mean little.",
    "trustworthiness": "Trustworthiness: how far each point's 10 nearest neighbours on the map are also among its "
                       "nearest in the codes; 1 when the map invents no neighbours, lower when it puts strangers "
                       "side by side.",
    "10-NN accuracy": "10-NN accuracy: each digit's class guessed by a vote of its 10 nearest other digits; on the "
                      "map it says how well the classes stay apart there, on the codes how well they are apart "
                      "before any map.",
    "linear probe": "Linear probe: a logistic regression (a linear classifier) trained on the codes to "
                    "predict the digit's class; high accuracy means the classes are linearly separable "
                    "in the code.",
    "cosine similarity": "Cosine similarity: 1 when two vectors point the same way, 0 when unrelated, "
                         "−1 when opposite.",
    "filter": "Filter: one hidden unit's 784 input weights drawn as a 28×28 picture: the pattern of pixels "
              "that makes the unit fire (bright = positive weight).",
    "corruption": "Corruption: a denoising autoencoder sees its input with some pixels masked (set to "
                  "zero) and must rebuild the clean digit.",
    "pretraining": "Greedy layer-wise pretraining: each layer is trained alone as a denoising autoencoder "
                   "on the codes of the layers below it, without labels, before the whole network is trained.",
    "fine-tuning": "Fine-tuning: the pretrained layers plus a classifier on top, all trained together on the "
                   "labels; the baseline trains the same network from random weights for the same epochs.",
    "slerp": "Slerp: spherical interpolation, along a great circle, keeping intermediate codes at a "
             "typical distance from the origin.",
}


def term(name: str) -> str:
    """The one-line explanation of `name` (a key of TERMS)."""
    return TERMS[name]


def loss_meaning(family: str) -> str:
    """What the loss numbers of a `family` mean, in two sentences for a caption under its curves."""
    base = ("Loss per image: how far the reconstruction is from the input, summed over the 784 pixels "
            "(lower is better); solid lines are training digits, dashed ones held-out validation digits.")
    extra = {
        "vae": " A VAE's loss adds a KL term (how far its codes are from the N(0, I) prior), so it is "
               "higher than, and not comparable with, a plain autoencoder's.",
        "sparse": " A sparse autoencoder's loss adds its sparsity penalty, so it is not comparable with a "
                  "plain autoencoder's.",
        "contractive": " A contractive autoencoder's loss adds its contraction penalty, so it is not "
                       "comparable with a plain autoencoder's.",
        "dae": " A denoising autoencoder rebuilds the clean digit from a corrupted one: a harder task than "
               "copying, so its loss is higher than a plain autoencoder's for the same size.",
        "stacked": " Stacked: each pretraining stage reconstructs its layer's input; fine-tuning's loss is "
                   "the cross-entropy of the predicted class (per image), on another scale.",
    }
    extra["conv_vae"] = extra["vae"]
    return base + extra.get(family, "")


ALIKE = 0.8  # pixel correlation above which two filter pictures read as the same picture
CLEARLY_MORE = 1.15  # a concentration this many times the other's reads as "more localised"


def filter_pair_caption(correlation: float | None, plain: float, denoising: float) -> str:
    """What the two filter grids (corruption 0 and 0.3) show, from measurements of the shown pictures:
    their pixel `correlation` (None when not comparable) and each set's `filter_concentration`."""
    share = (f"a filter's strongest 10% of pixels carry {plain:.0%} of its weight at corruption 0 and "
             f"{denoising:.0%} at 0.3 (about 44% for pure noise, near 100% for one short stroke)")
    alike = correlation is not None and correlation >= ALIKE
    said = f"pixel correlation between the two grids {correlation:.2f}" if correlation is not None else ""
    if alike:
        return (f"The two grids look alike ({said}): corruption has not visibly changed what these units "
                f"look for. Measured: {share}.")
    if denoising >= plain * CLEARLY_MORE:
        verdict = "The corrupted model's filters are more localised, closer to strokes"
    elif plain >= denoising * CLEARLY_MORE:
        verdict = "Here the plain model's filters are the more localised ones"
    else:
        verdict = "The two grids differ, but neither set is more localised"
    return f"{verdict}: {share}" + (f"; {said}." if said else ".")

METRICS = {
    "finetune_test_accuracy": "Share of test digits the pretrained and fine-tuned network classifies correctly.",
    "test_error": "Share of test digits it gets wrong (1 - that accuracy).",
    "random_init_test_accuracy": "The same network trained on the labels from random weights, for comparison.",
    # CNTK 105's figures, among the metrics of models stored before they moved to 'reconstruction'
    "brightest_pixel_error": "Share of test digits whose brightest decoded pixel is not one of the digit's own "
                             "brightest pixels (CNTK 105's error).",
    "train_brightest_pixel_error": "The same error on training digits.",
    "cosine_original_decoded": "Mean cosine similarity of each test digit with its reconstruction (1 = same picture).",
    "cosine_6_6_original": "Cosine similarity of the first two test 6s, as drawn.",
    "cosine_6_6_decoded": "The same two 6s, reconstructed.",
    "cosine_3_8_original": "Cosine similarity of the first test 3 and 8, as drawn.",
    "cosine_3_8_decoded": "The same 3 and 8, reconstructed.",
}


def metric_rows(metrics: dict[str, float]) -> dict[str, list[str]]:
    """A compact table of a model's extra figures: name, value and what each means."""
    names = list(metrics)
    return {"figure": [n.replace("_", " ") for n in names], "value": [f"{metrics[n]:.3f}" for n in names],
            "what it means": [METRICS.get(n, "") for n in names]}


STACKED_RECONSTRUCTIONS = (
    "These reconstructions are poor on purpose: a stacked model is fine-tuned as a digit classifier, which "
    "changes its encoder but not the decoder pretraining left, so the two no longer match. Its test loss is "
    "not comparable with an autoencoder's.")


def accuracy_gap(better: float, other: float, n: int) -> tuple[str, bool, str]:
    """How two test accuracies on the same `n` digits differ, with one standard error.

    Returns (the difference in points with its ± standard error, whether it is within noise, i.e.
    under two standard errors, and a sentence saying so in digits).
    """
    diff = better - other
    # the two accuracies taken as independent estimates on n digits (per-digit answers are not kept)
    se = (better * (1 - better) / n + other * (1 - other) / n) ** 0.5 if n else 0.0
    within = abs(diff) < 2 * se
    digits = round(abs(diff) * n)
    text = f"{diff * 100:+.2f} ± {se * 100:.2f} points vs random init"
    verdict = ("within noise: the two could swap places on other test digits or another seed" if within else
               "more than two standard errors, unlikely to be noise alone")
    sentence = (f"The difference is {digits:,} of {n:,} test digits; one standard error of a difference of two "
                f"accuracies on {n:,} digits is {se * 100:.2f} points, so it is {verdict}.")
    return text, within, sentence


def denoising_verdict(plain: float, denoiser: float, noise: str | None, trained_on: str | None) -> str:
    """One sentence on which of two models rebuilt the test digits better, from their mean errors, under
    `noise` (a kind in words, e.g. "masking"; None: no corruption); says why where the denoiser, trained
    on `trained_on`, loses."""
    lead = "Over the test digits the denoising model's error is"
    if denoiser < plain:
        return f"{lead} {plain / denoiser:.1f}× lower than the plain model's."
    why = ""
    if noise is None:
        why = ": on clean digits the plain model, trained on them, copies better"
    elif trained_on and trained_on != noise:
        why = f": it was trained on {trained_on}, not on {noise}"
    return f"{lead} {denoiser / plain:.1f}× higher than the plain model's{why}."
