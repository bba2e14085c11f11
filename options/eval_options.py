"""Options for evaluation (scripts/evaluate.py)."""

import os

from options.base_options import (REPO_ROOT, OptionError, add_dataroot, add_experiment_options,
                                  seed_value)
from options.test_options import TestOptions

TEST_SETS = ("synthetic", "paired", "celeba")
FEATURE_NETS = ("auto", "vgg16", "inception", "random", "none")


class EvalOptions(TestOptions):
    description = ("Evaluate a checkpoint folder on a test set: fidelity to the target photos "
                   "(L1, PSNR, SSIM, VGG distance), distribution quality (FID/KID), sketch "
                   "faithfulness (chamfer, edge F1), per face part, on clean and rough sketches.")

    def initialize(self, parser):
        parser = super().initialize(parser)
        e = parser.add_argument_group("evaluation")
        add_experiment_options(e, "an experiment name: evaluate CHECKPOINTS_DIR/NAME "
                                  "(instead of --params)")
        e.add_argument("--label", default="",
                       help="name of the model in the results (default: the folder name)")
        e.add_argument("--test_set", default="synthetic", choices=TEST_SETS,
                       help="synthetic: procedural faces (seed --test_seed, disjoint from the "
                            "training stream); paired / celeba: the test split under --dataroot")
        add_dataroot(e)
        e.add_argument("--n_test", type=int, default=48,
                       help="test faces (synthetic: how many; others: at most, 0 = all)")
        e.add_argument("--test_seed", type=seed_value, default=1234,
                       help="synthetic: seed of the faces (the test samples of the training "
                            "stream with the same seed: disjoint from training)")
        e.add_argument("--rough", action="store_true",
                       help="also evaluate rough variants of the test sketches (procedural "
                            "roughening) and report the gap to the clean ones")
        e.add_argument("--hand_like", action="store_true",
                       help="synthetic and celeba: also evaluate the test faces drawn in the "
                            "held-out hand-drawn style (pencil: never used in training)")
        e.add_argument("--looks", type=int, default=4,
                       help="models with an appearance code: random looks per sketch for the "
                            "look diversity, and reference photos (each face gets its "
                            "neighbour's photo) for the colour distances, and FID*/KID* of the "
                            "clean faces with a random look each (0 = skip)")
        e.add_argument("--parser", default="",
                       help="a folder with a trained face parser (SPEmbedding/latest_net_parser."
                            "pkl, train.py --method sp_embedding --stage parser): adds the "
                            "semantics metric, the mean IoU of the parser's reading of each "
                            "output against the test face's parts (synthetic test set)")
        e.add_argument("--eval_size", type=int, default=0,
                       help="size the test sketches are made at and outputs are compared at "
                            "(0 = the model's size; outputs of another size are resized)")
        e.add_argument("--hand", default="",
                       help="a folder of hand-drawn sketches (no target photos: distribution "
                            "and faithfulness metrics only)")
        e.add_argument("--results_dir", default="",
                       help="where images and metrics go (default: test_output/eval/LABEL)")
        e.add_argument("--feature_net", default="auto", choices=FEATURE_NETS,
                       help="features for FID/KID (the perceptual distance always uses VGG16): "
                            "inception (the standard FID Inception-v3, weights from "
                            "--inception_path), vgg16 (ImageNet weights, see train.py --vgg; "
                            "NOT comparable with published FID), random (smoke tests), none; "
                            "auto = inception when --inception_path is given, else vgg16 when "
                            "its weights can be had, else none")
        e.add_argument("--inception_path", default="",
                       help="PyTorch .pth of the FID Inception-v3 (pytorch-fid's "
                            "pt_inception-2015-12-05-6726825d.pth)")
        e.add_argument("--kid_subsets", type=int, default=10, help="KID: random subsets")
        e.add_argument("--no_images", action="store_true", help="do not save the output images")
        parser.set_defaults(batch_size=8)
        return parser

    def preset_folder(self, opt):
        if getattr(opt, "name", ""):
            return os.path.join(opt.checkpoints_dir, opt.name)
        return super().preset_folder(opt)

    def finish(self, opt):
        super().finish(opt)
        if opt.name:
            opt.params = os.path.join(opt.checkpoints_dir, opt.name)
        opt.label = opt.label or os.path.basename(os.path.normpath(opt.params))
        opt.results_dir = opt.results_dir or os.path.join(REPO_ROOT, "test_output", "eval",
                                                          opt.label)
        if opt.test_set != "synthetic" and not opt.dataroot:
            raise OptionError(f"--test_set {opt.test_set} needs --dataroot")
        if opt.test_set == "synthetic" and opt.n_test < 1:
            raise OptionError("--n_test must be at least 1 for the synthetic test set")
        if opt.feature_net == "inception" and not opt.inception_path:
            raise OptionError("--feature_net inception needs --inception_path")
        if opt.inception_path and not os.path.isfile(opt.inception_path):
            raise OptionError(f"--inception_path {opt.inception_path}: file not found")
        if opt.kid_subsets < 1:
            raise OptionError("--kid_subsets must be at least 1")
        if opt.hand_like and opt.test_set == "paired":
            raise OptionError("--hand_like redraws the test faces' strokes in the held-out style: "
                              "--test_set synthetic or celeba")
        opt.eval_size = opt.eval_size or getattr(opt, "image_size", 0) or opt.output_size
        # the dataset classes read these names
        opt.dataset_mode, opt.n_samples, opt.data_seed = opt.test_set, opt.n_test, opt.test_seed
        opt.max_dataset_size = 0 if opt.test_set == "synthetic" else opt.n_test
        return opt
