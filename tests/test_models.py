import pytest
import torch
import torchvision

from models import ARCHS, build_model, count_parameters

# He et al. 2015, Table 6: parameters of the CIFAR-10 ResNets
PAPER_PARAMS = {"resnet20": 0.27e6, "resnet32": 0.46e6, "resnet44": 0.66e6, "resnet56": 0.85e6, "resnet110": 1.7e6}


@pytest.mark.parametrize("arch,expected", sorted(PAPER_PARAMS.items()))
def test_cifar_resnets_match_paper_parameter_counts(arch, expected):
    n = count_parameters(build_model(arch, 10))
    assert abs(n - expected) / expected < 0.03, (arch, n)


@pytest.mark.parametrize("depth", [20, 56])
def test_plain_net_has_no_shortcuts_and_same_weights_as_option_a(depth):
    plain, res = build_model(f"plain{depth}"), build_model(f"resnet{depth}")
    assert count_parameters(plain) == count_parameters(res)  # option A adds no parameters
    blocks = [m for m in plain.modules() if hasattr(m, "shortcut")]
    assert len(blocks) == 3 * (depth - 2) // 6 and all(b.shortcut is None for b in blocks)


def test_option_b_adds_projection_parameters():
    a, b = build_model("resnet20", shortcut="A"), build_model("resnet20", shortcut="B")
    # two projections: 16->32 and 32->64 (1x1 conv + BN)
    assert count_parameters(b) - count_parameters(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_resnet50_matches_torchvision_with_cifar_stem():
    ours = build_model("resnet50", 10)
    tv = torchvision.models.resnet50(num_classes=10)
    tv.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    tv.maxpool = torch.nn.Identity()
    assert count_parameters(ours) == count_parameters(tv) == 23_520_842
    # same tensors, same shapes, in the same order: the two nets are the same architecture
    assert [p.shape for p in ours.parameters()] == [p.shape for p in tv.parameters()]


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet101"])
def test_imagenet_family_matches_torchvision(arch):
    tv = getattr(torchvision.models, arch)(num_classes=10)
    tv.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    assert count_parameters(build_model(arch, 10)) == count_parameters(tv)


@pytest.mark.parametrize("arch", ["resnet8", "plain8", "resnet20", "resnet18"])
def test_forward_shapes_on_32x32(arch):
    model = build_model(arch, num_classes=7).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_option_a_shortcut_pads_channels_with_zeros():
    from models import ShortcutA

    x = torch.randn(2, 16, 8, 8)
    y = ShortcutA(16, 32, 2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2]) and not y[:, 16:].any()


def test_unknown_arch_lists_valid_names():
    with pytest.raises(ValueError) as e:
        build_model("resnet51")
    assert "resnet51" in str(e.value) and all(a in str(e.value) for a in ARCHS)
