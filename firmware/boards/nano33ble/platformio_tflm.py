"""PlatformIO pre-script: adds TensorFlow Lite Micro (CMSIS-NN kernels, at the commit host/firmware.py pins)
and the exported model's C++ to the Nano 33 BLE build.

The TFLM tree comes from $TFLM_DIR/cmsis_nn, or is generated once with `kws firmware tflm` (which downloads
the pinned tflite-micro commit and lets its create_tflm_tree.py fetch its pinned third-party libraries).
The model is `custom_kws_model` in platformio.ini, or $KWS_MODEL (host/flash.py sets it).
"""

import os
import sys
from pathlib import Path

Import("env")  # noqa: F821  (provided by PlatformIO's SCons)

project = Path(env.subst("$PROJECT_DIR"))  # noqa: F821
sys.path.insert(0, str(project))
from host import firmware  # noqa: E402  (standard library only: runs in PlatformIO's Python)

root = firmware.tflm_root()
if not (root / "cmsis_nn").exists():
    firmware.fetch_tflm(root)
tree = firmware.tflm_tree("cmsis_nn")
model = project / os.environ.get("KWS_MODEL", env.GetProjectOption("custom_kws_model", "models/default"))  # noqa: F821

includes = [tree, tree / "third_party", tree / "third_party/gemmlowp", tree / "third_party/flatbuffers/include",
            tree / "third_party/kissfft", tree / "third_party/ruy", tree / "third_party/cmsis",
            tree / "third_party/cmsis/CMSIS/Core/Include", tree / "third_party/cmsis_nn",
            tree / "third_party/cmsis_nn/Include", project / "firmware/core", model / "firmware"]
env.Append(  # noqa: F821
    CPPPATH=[str(p) for p in includes],
    CPPDEFINES=["TF_LITE_STATIC_MEMORY", "TF_LITE_DISABLE_X86_NEON", "KERNELS_OPTIMIZED_FOR_SPEED", "CMSIS_NN",
                ("ARM_NN_ENABLE_F16", 0), ("ARM_NN_ENABLE_F32", 0)],
)
env.BuildSources(  # noqa: F821
    "$BUILD_DIR/tflm", str(tree),
    src_filter=["+<tensorflow/**/*.cc>", "+<tensorflow/**/*.c>", "+<third_party/cmsis_nn/**/*.c>",
                "-<**/*_test.cc>", "-<**/frontend_main.c>", "-<**/frontend_memmap_*.c>"],
)
env.BuildSources("$BUILD_DIR/kws_model", str(model / "firmware"))  # noqa: F821
