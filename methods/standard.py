"""Plain cross-entropy training, alone or with an automated augmentation policy."""
from methods.registry import register
from methods.base import Method


@register("baseline")
class Baseline(Method):
    label = "Baseline"
    summary = "cross-entropy with random crop and flip"


@register("autoaugment")
class AutoAugment(Baseline):
    label = "AutoAugment"
    summary = "baseline with AutoAugment (CIFAR-10 policy at 32 px, ImageNet policy at 96 px)"
    policy = "autoaugment"


@register("trivialaugment")
class TrivialAugment(Baseline):
    label = "TrivialAugment"
    summary = "baseline with TrivialAugmentWide (31 magnitude bins)"
    policy = "trivialaugment"
