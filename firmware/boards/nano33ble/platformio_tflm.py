"""PlatformIO pre-script: adds TensorFlow Lite Micro (CMSIS-NN kernels, at the commit host/firmware.py pins)
and the exported model's C++ to the Nano 33 BLE build.

The TFLM tree comes from $TFLM_DIR/cmsis_nn, or is generated once with `kws firmware tflm` (which downloads
the pinned tflite-micro commit and lets its create_tflm_tree.py fetch its pinned third-party libraries).
The model is `custom_kws_model` in platformio.ini, or $KWS_MODEL (host/flash.py sets it).

TFLM is compiled the way firmware/cmake/tflm.cmake compiles it: its own include paths only (its CMSIS 6
headers, never the mbed core's CMSIS 5 ones, which come first on the framework's include line), the generic
ARMCM4 device header for its DWT timer, its warnings off. It gets the framework's CPU, float-ABI and code
generation flags at build time (they are only known after the framework script has run), less the mbed include
list. The project's own code (firmware/core, the board layer, the exported model) builds with warnings as
errors (`build_src_flags` in platformio.ini, the same list for the model here).
"""

import os
import shutil
import sys
from pathlib import Path

Import("env")  # noqa: F821  (provided by PlatformIO's SCons)

from SCons.Script import DefaultEnvironment  # noqa: E402

project = Path(env.subst("$PROJECT_DIR"))  # noqa: F821
sys.path.insert(0, str(project))
from host import firmware  # noqa: E402  (standard library only: runs in PlatformIO's Python)

root = firmware.tflm_root()
if not (root / "cmsis_nn").exists():
    firmware.fetch_tflm(root)
tree = firmware.tflm_tree("cmsis_nn")
model = project / os.environ.get("KWS_MODEL", env.GetProjectOption("custom_kws_model", "models/default"))  # noqa: F821
if not (model / "firmware" / "kws_model.h").exists():
    sys.stderr.write(f"Error: {model} has no firmware/kws_model.h: run kws export --model {model}\n")
    env.Exit(1)  # noqa: F821

# What the project's code needs to include TFLM's headers, and the defines that change TFLM's types.
public_includes = [
    tree,
    tree / "third_party/gemmlowp",
    tree / "third_party/flatbuffers/include",
    tree / "third_party/kissfft",
    tree / "third_party/ruy",
    project / "firmware/core",
    model / "firmware",
]
public_defines = [
    "TF_LITE_STATIC_MEMORY",
    "TF_LITE_DISABLE_X86_NEON",
    "KERNELS_OPTIMIZED_FOR_SPEED",
    "CMSIS_NN",
    ("ARM_NN_ENABLE_F16", 0),
    ("ARM_NN_ENABLE_F32", 0),
]
env.Append(CPPPATH=[str(p) for p in public_includes], CPPDEFINES=public_defines)  # noqa: F821

tflm_includes = [
    *public_includes[:5],
    tree / "third_party",
    tree / "third_party/cmsis",
    tree / "third_party/cmsis/CMSIS/Core/Include",
    tree / "third_party/cmsis_nn",
    tree / "third_party/cmsis_nn/Include",
    tree / "third_party/cmsis/Cortex_DFP/Device/ARMCM4/Include",
]
tflm_defines = [
    *public_defines,
    ("CPU_M4", 1),
    "ARMCM4",
    ("CMSIS_DEVICE_ARM_CORTEX_M_XX_HEADER_FILE", '\\"ARMCM4.h\\"'),
]
PROJECT_WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wdouble-promotion", "-Wvla"]


def _framework_ccflags(extra):
    """CCFLAGS as the finished environment has them (CPU, float ABI, optimisation, sections), less the mbed
    core's include list, plus `extra`: called by SCons when it writes the command line."""

    def ccflags(target, source, env, for_signature):
        flags = [
            f for f in DefaultEnvironment()["CCFLAGS"] if not (isinstance(f, str) and f.startswith(("@", "-iprefix")))
        ]
        return flags + extra

    return ccflags


def _framework_cxxflags(target, source, env, for_signature):
    """The finished environment's CXXFLAGS in C++17 (the Arduino core itself builds as C++14)."""
    return [f for f in DefaultEnvironment()["CXXFLAGS"] if not (isinstance(f, str) and f.startswith("-std="))] + [
        "-std=gnu++17"
    ]


def _compiler(name):
    """The platform's compiler (only known once its builder has run) behind ccache where that is installed, as
    the CMake builds have it: TFLM is most of a clean build, and both envs compile it with the same flags."""
    launcher = ["ccache"] if shutil.which("ccache") else []

    def compiler(target, source, env, for_signature):
        return [*launcher, DefaultEnvironment()[name]]

    return compiler


def build(variant_dir, src_dir, src_filter, **overrides):
    nodes = env.CollectBuildFiles(variant_dir, src_dir, src_filter)  # noqa: F821
    overrides.update(CC=_compiler("CC"), CXX=_compiler("CXX"))
    DefaultEnvironment().Append(PIOBUILDFILES=[env.Object(node, **overrides) for node in nodes])  # noqa: F821


build(
    "$BUILD_DIR/tflm",
    str(tree),
    [
        "+<tensorflow/**/*.cc>",
        "+<tensorflow/**/*.c>",
        "+<third_party/cmsis_nn/**/*.c>",
        "-<**/*_test.cc>",
        "-<**/frontend_main.c>",
        "-<**/frontend_memmap_*.c>",
    ],
    CPPPATH=[str(p) for p in tflm_includes],
    CPPDEFINES=tflm_defines,
    CCFLAGS=_framework_ccflags(["-w", "-fno-threadsafe-statics"]),
    CXXFLAGS=_framework_cxxflags,
)
build(
    "$BUILD_DIR/kws_model",
    str(model / "firmware"),
    ["+<*.cc>"],
    CCFLAGS=_framework_ccflags(PROJECT_WARNINGS),
    CXXFLAGS=_framework_cxxflags,
)
