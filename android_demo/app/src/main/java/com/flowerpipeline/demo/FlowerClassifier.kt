package com.flowerpipeline.demo

import android.content.Context
import android.os.SystemClock
import com.flowerpipeline.demo.core.DType
import com.flowerpipeline.demo.core.HeadInfo
import com.flowerpipeline.demo.core.HeadResult
import com.flowerpipeline.demo.core.ModelFile
import com.flowerpipeline.demo.core.ModelSpec
import com.flowerpipeline.demo.core.Outputs
import com.flowerpipeline.demo.core.Preprocessor
import com.flowerpipeline.demo.core.Quantization
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/** The heads' answers and the model's own time (runSignature only; the app times the whole frame). */
data class Classification(val heads: List<HeadResult>, val inferenceMs: Double, val variant: String, val threads: Int)

/**
 * The exported model from the app's assets (`model.tflite`, copied by `pipeline android`), run
 * through its signature with named inputs and outputs. Heads, labels, normalization and input
 * spec come from the model file itself (ModelFile reads the files packed in it). No UI code
 * here; the pure logic (model file, pixels -> tensor, decoding) lives in the `core` package,
 * which is tested on the JVM. Not thread-safe: use from one executor.
 *
 * A camera frame goes from CameraX's RGBA plane to the input tensor with no bitmap and no
 * garbage (Preprocessor keeps its buffers); the input map is made once. The outputs' decoding
 * allocates a few small objects per frame (one answer list and its text).
 */
class FlowerClassifier(context: Context, val threads: Int) : Closeable {
    private val model: MappedByteBuffer = mapAsset(context, ModelFile.ASSET)
    val spec: ModelSpec = ModelFile.spec(model)
    private val variant = spec.variant()
    private val interpreter = Interpreter(model, Interpreter.Options().setNumThreads(threads))
    private val preprocessor: Preprocessor
    private val input: ByteBuffer
    private val outputTensors: Map<String, Tensor>
    private val outputBuffers: Map<String, ByteBuffer>
    private val inputs: Map<String, Any>
    /** The model's input side in pixels: the camera's analysis size and the photos' decoding follow it. */
    val inputSize: Int get() = variant.input.size

    init {
        // Quantization comes from the interpreter itself: it is what the model really uses.
        val inputTensor = interpreter.getInputTensorFromSignature(variant.input.name, variant.signature)
        preprocessor = Preprocessor(variant.input, quantization(inputTensor))
        // At load, not at the first frame: runSignature would throw on every frame otherwise.
        preprocessor.checkInputBytes(inputTensor.numBytes())
        input = preprocessor.newBuffer()
        inputs = mapOf(variant.input.name to input)
        outputTensors = spec.heads.keys.associateWith { interpreter.getOutputTensorFromSignature(it, variant.signature) }
        // At load, not at the first photo: a class list that does not fit its output would
        // drop or invent classes in every answer.
        spec.heads.forEach { (name, labels) ->
            val values = outputTensors.getValue(name).numElements()
            val expected = Outputs.outputSize(labels, spec.kinds[name] ?: HeadInfo())
            require(values == expected) {
                "output '$name' has $values values but the model's description says $expected"
            }
        }
        outputBuffers = outputTensors.mapValues { (_, t) ->
            ByteBuffer.allocateDirect(t.numBytes()).order(ByteOrder.nativeOrder())
        }
    }

    /** A CameraX RGBA_8888 frame (plane 0), to be turned `rotationDegrees` clockwise. */
    fun classifyFrame(plane: ByteBuffer, width: Int, height: Int, rowStride: Int, rotationDegrees: Int): Classification {
        preprocessor.fillRgba(plane, width, height, rowStride, rotationDegrees, input)
        return run()
    }

    /** Packed ARGB pixels (Bitmap.getPixels) stored turned by EXIF `orientation`; the whole image is resized, as in Python. */
    fun classifyPixels(argb: IntArray, width: Int, height: Int, orientation: Int): Classification {
        preprocessor.fill(argb, width, height, input, orientation)
        return run()
    }

    private fun run(): Classification {
        outputBuffers.values.forEach { it.rewind() }
        val start = SystemClock.elapsedRealtimeNanos()
        interpreter.runSignature(inputs, outputBuffers, variant.signature)
        val ms = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
        val probabilities = outputBuffers.mapValues { (name, buffer) ->
            val tensor = outputTensors.getValue(name)
            Outputs.dequantize(buffer, dtype(tensor), quantization(tensor), tensor.numElements())
        }
        return Classification(Outputs.decode(spec.heads, probabilities, variant.thresholds, spec.kinds),
                              ms, variant.key, threads)
    }

    override fun close() = interpreter.close()

    private fun dtype(tensor: Tensor): DType = when (tensor.dataType()) {
        DataType.FLOAT32 -> DType.FLOAT32
        DataType.UINT8 -> DType.UINT8
        DataType.INT8 -> DType.INT8
        else -> throw IllegalStateException("unsupported tensor type ${tensor.dataType()}")
    }

    private fun quantization(tensor: Tensor): Quantization? {
        val q = tensor.quantizationParams()
        return if (q.scale == 0f) null else Quantization(q.scale, q.zeroPoint)
    }

    private fun mapAsset(context: Context, name: String): MappedByteBuffer =
        context.assets.openFd(name).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use {
                it.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }
}
