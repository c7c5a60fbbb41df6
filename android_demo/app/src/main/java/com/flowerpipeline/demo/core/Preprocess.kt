package com.flowerpipeline.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.ceil
import kotlin.math.max

/**
 * Bilinear resize of the whole image, bit-exact with Pillow's `Image.resize(..., BILINEAR)`.
 *
 * The Python side (training, `pipeline predict`) resizes with Pillow, and Pillow's "bilinear"
 * is a separable triangle filter whose support widens when shrinking (an antialiasing resize),
 * computed in 22-bit fixed point, one axis after the other (see [resize] for which first),
 * each pass rounded to 8 bits.
 * Android's Bitmap.createScaledBitmap is a different filter; matching Pillow here means the
 * phone feeds the model the same bytes Python does (checked by GoldenInputTest).
 */
object PilBilinear {
    private const val PRECISION_BITS = 32 - 8 - 2

    /** Per output index: first input index, number of taps, and fixed-point weights. */
    private class Taps(val start: IntArray, val count: IntArray, val width: Int, val weights: IntArray)

    private fun triangle(x: Double): Double {
        val a = if (x < 0) -x else x
        return if (a < 1.0) 1.0 - a else 0.0
    }

    private fun taps(inSize: Int, outSize: Int): Taps {
        val scale = inSize.toDouble() / outSize
        val filterScale = max(scale, 1.0)
        val support = filterScale // the triangle's own support is 1
        val width = ceil(support).toInt() * 2 + 1
        val start = IntArray(outSize)
        val count = IntArray(outSize)
        val weights = IntArray(outSize * width)
        val w = DoubleArray(width)
        for (o in 0 until outSize) {
            val center = (o + 0.5) * scale
            // Double.toInt truncates toward zero, like the C cast Pillow uses.
            val lo = max((center - support + 0.5).toInt(), 0)
            val n = minOf((center + support + 0.5).toInt(), inSize) - lo
            var total = 0.0
            for (t in 0 until n) {
                w[t] = triangle((t + lo - center + 0.5) / filterScale)
                total += w[t]
            }
            for (t in 0 until n) {
                val v = (if (total != 0.0) w[t] / total else w[t]) * (1 shl PRECISION_BITS)
                weights[o * width + t] = if (v < 0) (v - 0.5).toInt() else (v + 0.5).toInt()
            }
            start[o] = lo
            count[o] = n
        }
        return Taps(start, count, width, weights)
    }

    private fun clip8(acc: Int): Int = when {
        acc >= (1 shl PRECISION_BITS shl 8) -> 255
        acc <= 0 -> 0
        else -> acc shr PRECISION_BITS
    }

    /**
     * One pass along an axis of an interleaved RGB plane: `stride` steps between taps,
     * `lines` x `outSize` outputs. Generic over direction so rows and columns share it.
     */
    private fun pass(src: IntArray, taps: Taps, outSize: Int, lines: Int,
                     tapStride: Int, lineStride: Int, outIndex: (line: Int, o: Int) -> Int): IntArray {
        val dst = IntArray(outSize * lines * 3)
        for (line in 0 until lines) {
            for (o in 0 until outSize) {
                val base = line * lineStride + taps.start[o] * tapStride
                for (c in 0 until 3) {
                    var acc = 1 shl (PRECISION_BITS - 1)
                    for (t in 0 until taps.count[o]) {
                        acc += src[base + t * tapStride + c] * taps.weights[o * taps.width + t]
                    }
                    dst[outIndex(line, o) + c] = clip8(acc)
                }
            }
        }
        return dst
    }

    /**
     * Interleaved RGB (0..255 per channel, width x height) -> size x size interleaved RGB.
     * Each pass rounds to 8 bits, so their order changes results by one level here and there:
     * Pillow 13 (the pinned version; python-pillow/Pillow#9549) runs the vertical pass first
     * when the height shrinks by more than twice as many pixels as the width, else rows first.
     * A pass is skipped when that side already has the size.
     */
    fun resize(rgb: IntArray, width: Int, height: Int, size: Int): IntArray =
        if (verticalFirst(width, height, size)) {
            horizontal(vertical(rgb, width, height, size), width, size, size)
        } else {
            vertical(horizontal(rgb, width, height, size), size, height, size)
        }

    fun verticalFirst(width: Int, height: Int, size: Int): Boolean =
        height > size && height - size > 2 * (width - size)

    private fun horizontal(img: IntArray, w: Int, h: Int, size: Int): IntArray =
        if (w == size) img else pass(img, taps(w, size), size, h, 3, w * 3) { line, o -> (line * size + o) * 3 }

    private fun vertical(img: IntArray, w: Int, h: Int, size: Int): IntArray =
        if (h == size) img else pass(img, taps(h, size), size, w, w * 3, 3) { line, o -> (o * w + line) * 3 }
}

/** Android's ARGB_8888 pixels (Bitmap.getPixels) -> interleaved RGB, alpha dropped. */
fun argbToRgb(argb: IntArray): IntArray {
    val out = IntArray(argb.size * 3)
    for (i in argb.indices) {
        val p = argb[i]
        out[i * 3] = (p shr 16) and 0xFF
        out[i * 3 + 1] = (p shr 8) and 0xFF
        out[i * 3 + 2] = p and 0xFF
    }
    return out
}

/**
 * Pixels -> the model's input tensor: x = (pixel - mean) / std in float32, then for an integer
 * input round(x / scale + zero_point) with ties to even and clamping, the same float32
 * arithmetic numpy does in pipeline/runtime.py, so the bytes match exactly.
 */
class Preprocessor(private val input: InputSpec, private val quantization: Quantization?) {
    init {
        require(input.dtype == DType.FLOAT32 || quantization != null) {
            "a ${input.dtype} input needs its quantization scale and zero point"
        }
    }

    val byteSize: Int get() = input.size * input.size * 3 * input.dtype.bytes

    fun newBuffer(): ByteBuffer = ByteBuffer.allocateDirect(byteSize).order(ByteOrder.nativeOrder())

    /** Fill `out` (native byte order, as LiteRT expects) from an image of any size. */
    fun fill(rgb: IntArray, width: Int, height: Int, out: ByteBuffer) {
        val pixels = PilBilinear.resize(rgb, width, height, input.size)
        out.rewind()
        for (i in pixels.indices) {
            val c = i % 3
            val x = (pixels[i].toFloat() - input.mean[c]) / input.std[c]
            when (input.dtype) {
                DType.FLOAT32 -> out.putFloat(x)
                DType.UINT8 -> out.put(quantize(x, 0, 255).toByte())
                DType.INT8 -> out.put(quantize(x, -128, 127).toByte())
            }
        }
        out.rewind()
    }

    private fun quantize(x: Float, lo: Int, hi: Int): Int {
        val q = quantization!!
        val v = Math.rint((x / q.scale + q.zeroPoint.toFloat()).toDouble()).toInt()
        return v.coerceIn(lo, hi)
    }

    /** The tensor as bytes, for tests and for comparing with Python's reference bytes. */
    fun toBytes(rgb: IntArray, width: Int, height: Int): ByteArray {
        val buffer = newBuffer()
        fill(rgb, width, height, buffer)
        return ByteArray(byteSize).also { buffer.get(it) }
    }
}
