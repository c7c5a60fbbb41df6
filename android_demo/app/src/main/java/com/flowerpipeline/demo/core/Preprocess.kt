package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/** The model's input tensor does not take what the preprocessing makes (checked at load). */
class InputMismatch(message: String) : Exception(message)

/**
 * Pixels -> the model's input tensor: Pillow's bilinear resize of the whole image ([Resizer]),
 * then x = (pixel - mean) / std in float32 and, for an integer input, round(x / scale +
 * zero_point) with ties to even and clamping: the same float32 arithmetic numpy does in
 * pipeline/modelfile/runtime.py, so the bytes match exactly.
 *
 * Made for the camera: after the first frame of a given size nothing is allocated. The value
 * written for a pixel depends only on its channel and its 0..255 level, so normalization and
 * quantization are a 3 x 256 table made once; the buffers are kept. Not thread-safe.
 */
class Preprocessor(private val input: InputSpec, private val quantization: Quantization?) {
    init {
        require(input.dtype == DType.FLOAT32 || quantization != null) {
            "a ${input.dtype} input needs its quantization scale and zero point"
        }
    }

    val size: Int get() = input.size
    val byteSize: Int = input.size * input.size * 3 * input.dtype.bytes

    private val resizer = Resizer(input.size)
    private val floats = FloatArray(3 * 256) { normalized(it % 256, it / 256) }
    private val bytes = ByteArray(3 * 256) { quantized(it % 256, it / 256) }
    private val staging = ByteArray(if (input.dtype == DType.FLOAT32) 0 else byteSize)
    private val mapping = Orientation.Mapping()
    // Kept (not made per call) so that a frame allocates nothing; emptied after each call.
    private val argbPixels = ArgbPixels()
    private val rgbaPlane = RgbaPlane()

    fun newBuffer(): ByteBuffer = ByteBuffer.allocateDirect(byteSize).order(ByteOrder.nativeOrder())

    /** At load: the interpreter's input tensor must take exactly the bytes made here. */
    fun checkInputBytes(tensorBytes: Int) {
        if (tensorBytes != byteSize) throw InputMismatch(
            "the model's input '${input.name}' takes $tensorBytes bytes, but its description " +
                "(${input.shape}, ${input.dtype.name.lowercase()}) makes $byteSize")
    }

    /**
     * Packed ARGB pixels (Bitmap.getPixels, ImageIO getRGB; alpha ignored) of a `width` x
     * `height` image stored turned by EXIF `orientation`, rows `stride` pixels apart ->
     * `out` (native byte order, as LiteRT expects; rewound).
     */
    fun fill(argb: IntArray, width: Int, height: Int, out: ByteBuffer,
             orientation: Int = Orientation.NORMAL, stride: Int = width) {
        require(width > 0 && height > 0 && argb.size >= (height - 1) * stride + width) {
            "${argb.size} pixels for $width x $height (stride $stride)"
        }
        argbPixels.argb = argb
        val m = Orientation.mapping(width, height, stride, orientation, mapping)
        write(resizer.resize(argbPixels, m), out)
        argbPixels.argb = ArgbPixels.EMPTY // the photo is not kept alive until the next call
    }

    /**
     * A camera frame as CameraX's OUTPUT_IMAGE_FORMAT_RGBA_8888 plane holds it: R, G, B, A
     * bytes, rows `rowStride` bytes apart, to be turned `rotationDegrees` clockwise. Read in
     * place, each pixel once ([RgbaPlane]): no copy of the frame is made.
     */
    fun fillRgba(plane: ByteBuffer, width: Int, height: Int, rowStride: Int, rotationDegrees: Int, out: ByteBuffer) {
        require(rowStride >= width * 4 && plane.limit() >= (height - 1) * rowStride + width * 4) {
            "a $width x $height RGBA frame with row stride $rowStride needs more than ${plane.limit()} bytes"
        }
        rgbaPlane.plane = plane
        val m = Orientation.mapping(width, height, rowStride, Orientation.fromRotation(rotationDegrees), mapping,
                                    pixelStep = 4)
        write(resizer.resize(rgbaPlane, m), out)
        rgbaPlane.plane = RgbaPlane.EMPTY
    }

    private fun write(pixels: IntArray, out: ByteBuffer) {
        if (input.dtype == DType.FLOAT32) {
            for (i in pixels.indices) {
                val p = pixels[i]
                out.putFloat(i * 12, floats[p shr 16 and 0xFF])
                out.putFloat(i * 12 + 4, floats[256 + (p shr 8 and 0xFF)])
                out.putFloat(i * 12 + 8, floats[512 + (p and 0xFF)])
            }
        } else {
            for (i in pixels.indices) {
                val p = pixels[i]
                staging[i * 3] = bytes[p shr 16 and 0xFF]
                staging[i * 3 + 1] = bytes[256 + (p shr 8 and 0xFF)]
                staging[i * 3 + 2] = bytes[512 + (p and 0xFF)]
            }
            out.rewind()
            out.put(staging)
        }
        out.rewind()
    }

    private fun normalized(level: Int, channel: Int): Float = (level.toFloat() - input.mean[channel]) / input.std[channel]

    private fun quantized(level: Int, channel: Int): Byte {
        val q = quantization ?: return 0
        val x = normalized(level, channel)
        val v = Math.rint((x / q.scale + q.zeroPoint.toFloat()).toDouble()).toInt()
        return when (input.dtype) {
            DType.UINT8 -> v.coerceIn(0, 255).toByte()
            DType.INT8 -> v.coerceIn(-128, 127).toByte()
            DType.FLOAT32 -> 0
        }
    }

    /** The tensor as bytes, for tests and for comparing with Python's reference bytes. */
    fun toBytes(argb: IntArray, width: Int, height: Int, orientation: Int = Orientation.NORMAL): ByteArray {
        val buffer = newBuffer()
        fill(argb, width, height, buffer, orientation)
        return ByteArray(byteSize).also { buffer.get(it) }
    }
}
