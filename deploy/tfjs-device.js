// What the device bundle gives fedmq's `import * as tf from '@tensorflow/tfjs'` (deploy/bundle.js
// resolves that import here): the @tensorflow/tfjs union minus what a device never runs in Node
// (the WebGL backend, the graph-model converter, tf.data). fedmq uses only tfjs-core and
// tfjs-layers; the cpu backend stays as the last fallback, the wasm backend is imported by
// learning/backend.ts itself. The side-effect imports are the union's own.
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
export * from '@tensorflow/tfjs-backend-cpu';
