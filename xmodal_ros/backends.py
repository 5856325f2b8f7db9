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
Inference sessions for one ONNX graph each, behind one interface: ``session.run(x) -> outputs``.

Two backends:

* ``onnxruntime`` — ONNX Runtime with the best execution providers this host has (TensorRT, then
  CUDA, then CPU). CPU sessions are single-threaded and sequential: on a small robot computer the
  node's callbacks, DDS and the other processes need the remaining cores, and for these small
  graphs a thread pool adds wake-up latency rather than removing it (measured on a 2-core host:
  two intra-op threads made every graph 25-80 % slower at batch 1).
* ``tensorrt`` — native TensorRT engines (Jetson, GPU hosts). Engines are built from the ONNX
  graph with a dynamic batch profile, in FP16 where the TensorRT version offers it, and cached on
  disk under a key made of the ONNX file's SHA-256, the TensorRT version and the GPU name, so a
  restart on the same device never rebuilds and a changed model, TensorRT or GPU never loads a
  stale engine. ``xmodal export --tensorrt`` builds its engines through this same code.

``tensorrt`` and CUDA are imported lazily and only when asked for; nothing here imports torch.
"""
import ctypes
import ctypes.util
import functools
import hashlib
import importlib.util
import os
from pathlib import Path
import re

import numpy as np

from xmodal_ros.bundle import BundleError, sha256_file

BACKENDS = ('auto', 'onnxruntime', 'tensorrt')
ORT_PROVIDER_PREFERENCE = ('TensorrtExecutionProvider', 'CUDAExecutionProvider',
                           'CPUExecutionProvider')
DEFAULT_MAX_BATCH = 64


class BackendError(RuntimeError):
    """A backend that cannot run here; the message says what is missing and what to set instead."""


def default_cache_dir():
    """
    Return where TensorRT engines are cached.

    $XMODAL_ENGINE_CACHE, else ~/.cache/xmodal_ros/engines.
    """
    env = os.environ.get('XMODAL_ENGINE_CACHE')
    if env:
        return Path(env)
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'xmodal_ros' / 'engines'


# ---------------------------------------------------------------------------------------------
# Which backend


def tensorrt_importable():
    return importlib.util.find_spec('tensorrt') is not None


@functools.lru_cache(maxsize=1)
def gpu_name():
    """Name of CUDA device 0, or None where there is no CUDA runtime or no GPU."""
    try:
        return _cuda().device_name()
    except BackendError:
        return None


def resolve_backend(name):
    """'auto' -> 'tensorrt' if TensorRT imports and a GPU exists, else 'onnxruntime'."""
    if name not in BACKENDS:
        raise BackendError(f'unknown backend {name!r}; expected one of {", ".join(BACKENDS)}')
    if name == 'auto':
        return 'tensorrt' if tensorrt_importable() and gpu_name() else 'onnxruntime'
    if name == 'tensorrt':
        if not tensorrt_importable():
            raise BackendError('backend tensorrt: the `tensorrt` Python package is not importable '
                               '(on Jetson it comes with JetPack: python3-libnvinfer; elsewhere '
                               '`pip install .[gpu]`); or set backend: onnxruntime')
        if not gpu_name():
            raise BackendError('backend tensorrt: no CUDA GPU found (libcudart could not be '
                               'loaded or reports no device); set backend: onnxruntime')
    return name


def ort_providers(available=None):
    """
    Return the execution providers to ask ONNX Runtime for, best first.

    Only those it offers here.
    """
    if available is None:
        import onnxruntime as ort
        available = ort.get_available_providers()
    return [p for p in ORT_PROVIDER_PREFERENCE if p in available] or ['CPUExecutionProvider']


# ---------------------------------------------------------------------------------------------
# ONNX Runtime


def ort_session_options(threads=1):
    """Session options tuned for latency of small graphs on a few shared cores."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning workers would burn the cores the node's other callbacks and DDS need.
    so.add_session_config_entry('session.intra_op.allow_spinning', '0')
    so.add_session_config_entry('session.inter_op.allow_spinning', '0')
    so.log_severity_level = 3
    return so


class OrtSession:
    """One graph in ONNX Runtime; ``run(x)`` returns the outputs named ``outputs``, in order."""

    def __init__(self, path, input_name, output_names, input_shape, *, threads=1, providers=None,
                 cache_dir=None, max_batch=DEFAULT_MAX_BATCH):
        import onnxruntime as ort
        self.path = Path(path)
        self.input_name = input_name
        self.output_names = list(output_names)
        providers = list(providers) if providers else ort_providers()
        provider_args = [(p, self._provider_options(p, input_shape, cache_dir, max_batch))
                         for p in providers]
        try:
            self._session = ort.InferenceSession(str(self.path), ort_session_options(threads),
                                                 providers=provider_args)
        except Exception as e:  # noqa: BLE001 - ORT raises several unrelated types for bad files
            raise BundleError(f'{self.path}: ONNX Runtime cannot load this graph ({e}); '
                              're-export the bundle') from None
        _check_io(self.path, [i.name for i in self._session.get_inputs()],
                  [o.name for o in self._session.get_outputs()], input_name, self.output_names)
        self.providers = self._session.get_providers()
        self.backend = f'onnxruntime:{self.providers[0]}'

    def _provider_options(self, provider, input_shape, cache_dir, max_batch):
        if provider != 'TensorrtExecutionProvider':
            return {}
        dims = 'x'.join(str(d) for d in input_shape)
        cache = Path(cache_dir or default_cache_dir()) / 'ort-trt'
        cache.mkdir(parents=True, exist_ok=True)
        return {'trt_fp16_enable': 'True', 'trt_engine_cache_enable': 'True',
                'trt_engine_cache_path': str(cache), 'trt_timing_cache_enable': 'True',
                'trt_timing_cache_path': str(cache),
                'trt_profile_min_shapes': f'{self.input_name}:1x{dims}',
                'trt_profile_opt_shapes': f'{self.input_name}:1x{dims}',
                'trt_profile_max_shapes': f'{self.input_name}:{max_batch}x{dims}'}

    def run(self, x):
        return tuple(self._session.run(self.output_names, {self.input_name: x}))

    def close(self):
        self._session = None


def _check_io(path, inputs, outputs, want_input, want_outputs):
    if inputs != [want_input] or not set(want_outputs) <= set(outputs):
        raise BundleError(f'{path}: graph inputs {inputs} / outputs {outputs}; the bundle format '
                          f'needs input {want_input!r} and outputs {list(want_outputs)} '
                          '(re-export the bundle)')


# ---------------------------------------------------------------------------------------------
# CUDA runtime through ctypes: device buffers and streams for TensorRT, without another package.


class _CudaRuntime:
    """The few libcudart calls TensorRT inference needs; every failure raises BackendError."""

    H2D, D2H = 1, 2  # cudaMemcpyKind

    def __init__(self):
        self._lib = _load_cudart()

    def _check(self, status, what):
        if status != 0:
            self._lib.cudaGetErrorString.restype = ctypes.c_char_p
            text = self._lib.cudaGetErrorString(status).decode()
            raise BackendError(f'CUDA {what} failed: {text} (error {status})')

    def device_count(self):
        n = ctypes.c_int(0)
        if self._lib.cudaGetDeviceCount(ctypes.byref(n)) != 0:
            return 0
        return n.value

    def device_name(self):
        if self.device_count() < 1:
            raise BackendError('no CUDA device')
        # cudaDeviceProp starts with `char name[256]` in every CUDA version; the rest is opaque.
        prop = ctypes.create_string_buffer(4096)
        self._check(self._lib.cudaGetDeviceProperties(prop, 0), 'cudaGetDeviceProperties')
        return prop.raw[:256].split(b'\0', 1)[0].decode()

    def malloc(self, nbytes):
        ptr = ctypes.c_void_p()
        self._check(self._lib.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(max(nbytes, 1))),
                    f'cudaMalloc({nbytes})')
        return ptr.value

    def free(self, ptr):
        self._lib.cudaFree(ctypes.c_void_p(ptr))

    def stream(self):
        s = ctypes.c_void_p()
        self._check(self._lib.cudaStreamCreate(ctypes.byref(s)), 'cudaStreamCreate')
        return s.value or 0

    def stream_destroy(self, stream):
        self._lib.cudaStreamDestroy(ctypes.c_void_p(stream))

    def copy(self, dst, src, nbytes, kind, stream):
        self._check(self._lib.cudaMemcpyAsync(ctypes.c_void_p(dst), ctypes.c_void_p(src),
                                              ctypes.c_size_t(nbytes), ctypes.c_int(kind),
                                              ctypes.c_void_p(stream)), 'cudaMemcpyAsync')

    def sync(self, stream):
        self._check(self._lib.cudaStreamSynchronize(ctypes.c_void_p(stream)),
                    'cudaStreamSynchronize')


def _load_cudart():
    names = [ctypes.util.find_library('cudart')] + [
        f'libcudart.so{v}' for v in ('', '.13', '.12', '.11.0')]
    for name in filter(None, names):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise BackendError('the CUDA runtime library (libcudart.so) cannot be loaded; add the CUDA '
                       'lib folder (Jetson: /usr/local/cuda/lib64) to LD_LIBRARY_PATH')


@functools.lru_cache(maxsize=1)
def _cuda():
    return _CudaRuntime()


# ---------------------------------------------------------------------------------------------
# TensorRT engines


def _trt():
    import tensorrt as trt
    return trt


@functools.lru_cache(maxsize=1)
def _trt_logger():
    trt = _trt()
    return trt.Logger(trt.Logger.WARNING)


def engine_cache_key(onnx_path, *, fp16=True, max_batch=DEFAULT_MAX_BATCH, trt_version=None,
                     device=None):
    """
    Return the file name of a graph's engine.

    The name says what it was built from, with which TensorRT, for which GPU.
    """
    trt_version = trt_version or _trt().__version__
    device = device or gpu_name() or 'nogpu'
    digest = hashlib.sha256(f'{sha256_file(onnx_path)}|{fp16}|{max_batch}'.encode()).hexdigest()
    slug = re.sub(r'[^A-Za-z0-9.]+', '-', device).strip('-')
    return (f'{Path(onnx_path).stem}-{digest[:16]}-trt{trt_version}-{slug}'
            f'-{"fp16" if fp16 else "fp32"}-b{max_batch}.engine')


def build_engine(onnx_path, input_name, input_shape, *, cache_dir=None, fp16=True,
                 max_batch=DEFAULT_MAX_BATCH, workspace_bytes=1 << 30):
    """
    Get the serialized TensorRT engine for an ONNX graph from the cache, or build (and cache) it.

    The engine accepts batches 1..``max_batch`` of ``input_shape`` (optimised for batch 1, the
    node's case). FP16 is requested with BuilderFlag.FP16 on TensorRT < 11; TensorRT 11 removed
    that flag (strong typing), so there the precision is the ONNX graph's own. Returns the engine
    path. Writing is atomic, so two processes building the same engine never corrupt it.
    """
    trt = _trt()
    onnx_path = Path(onnx_path)
    cache_dir = Path(cache_dir or default_cache_dir())
    path = cache_dir / engine_cache_key(onnx_path, fp16=fp16, max_batch=max_batch)
    if path.is_file():
        return path
    logger = _trt_logger()
    builder = trt.Builder(logger)
    # TensorRT 8.x needs the explicit-batch flag; from 10 it is the only mode (flag deprecated).
    explicit = getattr(trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH', None)
    old = explicit is not None and int(trt.__version__.split('.')[0]) < 10
    network = builder.create_network((1 << int(explicit)) if old else 0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f'{onnx_path}: TensorRT cannot parse this graph: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16 and hasattr(trt.BuilderFlag, 'FP16'):
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    shape = tuple(int(d) for d in input_shape)
    profile.set_shape(input_name, (1, *shape), (1, *shape), (int(max_batch), *shape))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f'{onnx_path}: TensorRT failed to build an engine (see the log above)')
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f'.tmp{os.getpid()}')
    tmp.write_bytes(memoryview(serialized))
    os.replace(tmp, path)
    return path


class TrtSession:
    """One TensorRT engine, device buffers sized for ``max_batch``; same ``run`` as OrtSession."""

    def __init__(self, onnx_path, input_name, output_names, input_shape, *, cache_dir=None,
                 fp16=True, max_batch=DEFAULT_MAX_BATCH):
        trt = _trt()
        self.path = build_engine(onnx_path, input_name, input_shape, cache_dir=cache_dir,
                                 fp16=fp16, max_batch=max_batch)
        self.input_name = input_name
        self.output_names = list(output_names)
        self.input_shape = tuple(input_shape)
        self.max_batch = int(max_batch)
        self._cuda = _cuda()
        runtime = trt.Runtime(_trt_logger())
        self._engine = runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self._engine is None:
            raise BackendError(f'{self.path}: TensorRT cannot load this cached engine; delete it '
                               'and it will be rebuilt')
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names
                  if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        _check_io(onnx_path, inputs, [n for n in names if n not in inputs], input_name,
                  self.output_names)
        self._context = self._engine.create_execution_context()
        self._stream = self._cuda.stream()
        self._dtypes = {n: np.dtype(trt.nptype(self._engine.get_tensor_dtype(n))) for n in names}
        # Allocate for the largest batch once; per-call shapes are set on the context.
        self._context.set_input_shape(input_name, (self.max_batch, *self.input_shape))
        self._buffers = {}
        for n in [input_name] + self.output_names:
            nbytes = int(np.prod(self._context.get_tensor_shape(n))) * self._dtypes[n].itemsize
            self._buffers[n] = self._cuda.malloc(nbytes)
            self._context.set_tensor_address(n, self._buffers[n])
        self.backend = f'tensorrt:{gpu_name()}'

    def run(self, x):
        if x.shape[0] > self.max_batch:
            raise ValueError(f'batch {x.shape[0]} exceeds the engine profile max {self.max_batch}')
        x = np.ascontiguousarray(x, dtype=self._dtypes[self.input_name])
        self._context.set_input_shape(self.input_name, x.shape)
        cuda, stream = self._cuda, self._stream
        cuda.copy(self._buffers[self.input_name], x.ctypes.data, x.nbytes, cuda.H2D, stream)
        if not self._context.execute_async_v3(stream):
            raise BackendError(f'{self.path}: TensorRT execution failed')
        outs = []
        for n in self.output_names:
            out = np.empty(tuple(self._context.get_tensor_shape(n)), self._dtypes[n])
            cuda.copy(out.ctypes.data, self._buffers[n], out.nbytes, cuda.D2H, stream)
            outs.append(out)
        cuda.sync(stream)
        return tuple(o.astype(np.float32, copy=False) for o in outs)

    def close(self):
        if self._context is None:
            return
        self._cuda.sync(self._stream)
        for ptr in self._buffers.values():
            self._cuda.free(ptr)
        self._cuda.stream_destroy(self._stream)
        self._buffers, self._context, self._engine = {}, None, None


def open_session(backend, onnx_path, input_name, output_names, input_shape, *, threads=1,
                 providers=None, cache_dir=None, max_batch=DEFAULT_MAX_BATCH):
    """Return a session for one graph on a resolved backend ('onnxruntime' or 'tensorrt')."""
    if backend == 'tensorrt':
        return TrtSession(onnx_path, input_name, output_names, input_shape, cache_dir=cache_dir,
                          max_batch=max_batch)
    if backend == 'onnxruntime':
        return OrtSession(onnx_path, input_name, output_names, input_shape, threads=threads,
                          providers=providers, cache_dir=cache_dir, max_batch=max_batch)
    raise BackendError(f'unresolved backend {backend!r}; call resolve_backend first')
