/**
 * fedmq's inference folder: a task's model as ONNX (exportOnnx), and predictors that run it
 * (onnxruntime-node, onnxruntime-web's wasm build, or tfjs). Imports protocol and learning only;
 * the ONNX runtimes are loaded on first use, never when this module is imported.
 */
export { exportOnnx, ONNX_INPUT, ONNX_IR_VERSION, ONNX_METADATA, ONNX_OPSET, ONNX_OUTPUT } from './onnxExport.js';
export { createPredictor, RUNTIME_CHOICES, type Predictor, type PredictorOptions, type RuntimeChoice, type RuntimeName } from './predictor.js';
