"""Exercise 8.10: data augmentation on CIFAR-10 (training runs: out of scope).

Training for 50 epochs on CIFAR-10 needs the dataset and hours of compute, and its results
depend on the run; the book does not perform them.  What the engine can still derive is the
size of the augmentation's geometric family: a random crop of a padded image is a sliding
window, so the number of distinct crops is an output size (:mod:`derive.conv.shapes`),
cross-checked by enumerating the crop offsets.
"""

from derive.book import Part, Problem, Sheet

IMAGE = 32          # CIFAR-10 images are 32 x 32
CROP_PADDING = 4    # the customary zero padding before a random 32 x 32 crop (our choice;
                    # the exercise does not fix it)

REASON = ("needs CIFAR-10 and 50-epoch training runs (hours of compute, results that vary "
          "from run to run); the book performs no training")


def _offsets(n: int, crop: int, padding: int) -> int:
    """Brute force: top-left corners of a crop x crop window inside the padded image."""
    padded = n + 2 * padding
    return sum(1 for top in range(padded) for left in range(padded)
               if top + crop <= padded and left + crop <= padded)


def solve_b(sheet: Sheet) -> None:
    from derive.conv.shapes import output_size, output_size_derivation

    sheet.text(f"What can be derived without training is how many different images the "
               f"geometric part of the augmentation produces from one training image. Pad the "
               f"{IMAGE}×{IMAGE} image by {CROP_PADDING} pixels on each side (the customary "
               f"choice; the exercise does not fix it) and cut out a {IMAGE}×{IMAGE} window: "
               "the window positions along one axis are exactly the output positions of a "
               "sliding window of width 32:")
    sheet.derive("crop offsets per axis",
                 output_size_derivation(IMAGE, IMAGE, CROP_PADDING, 1))
    per_axis = output_size(IMAGE, IMAGE, padding=CROP_PADDING)
    crops = per_axis ** 2
    sheet.numeric(crops, _offsets(IMAGE, IMAGE, CROP_PADDING), why="distinct crops",
                  method="brute force: every top-left corner of the crop inside the padded "
                         "image, enumerated")
    variants = 2 * crops
    sheet.text(f"A horizontal flip doubles this: {variants} geometric variants of every image "
               "(colour jitter adds a continuous family on top). The network therefore rarely "
               "sees exactly the same input twice, which is the mechanism behind the smaller "
               "train/validation gap the exercise asks to measure.")
    sheet.answer("distinct crops", crops)
    sheet.answer("crops and flips", variants)


def solve_d(sheet: Sheet) -> None:
    sheet.explain(
        "How to read the measurement (the numbers themselves need the runs): a large gap "
        "between training and validation accuracy means the network fits details of the "
        "training images that do not carry over to new ones, i.e. it overfits. Augmentation "
        "replaces each image by a random member of a large family of label-preserving "
        "variants (part (b)), so memorising individual pixels stops paying off; one expects "
        "training accuracy to drop a little and the gap to shrink, often with better "
        "validation accuracy.",
        rests_on=["8.10(b): number of crop and flip variants"])


PROBLEM = Problem(
    id="8.10", set="chapter8", order=10, title="Data augmentation",
    source="Chapter 8, exercise 8.10",
    statement="Measure what data augmentation does for a small CNN trained on CIFAR-10.",
    parts=(
        Part("a", "Train the small CNN of the chapter for 50 epochs with normalisation only.",
             scope="out-of-scope", reason=REASON),
        Part("b", "Train it again for 50 epochs with random crops of the padded image, "
                  "horizontal flips and colour jitter.", solve_b,
             scope="out-of-scope", reason=REASON),
        Part("c", "Plot training loss and validation accuracy of both runs and report the "
                  "train/validation accuracy gap of each.", scope="out-of-scope",
             reason=REASON),
        Part("d", "What does the gap say about overfitting, and how does augmentation change "
                  "it?", solve_d, scope="out-of-scope",
             reason="the answer rests on the measured gaps of part (c); only the general "
                    "reading is given"),
    ),
)
