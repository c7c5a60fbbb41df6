package com.flowerpipeline.demo.core

import kotlin.math.ceil
import kotlin.math.max

/**
 * Bilinear resize of the whole image, bit-exact with Pillow's `Image.resize(..., BILINEAR)`.
 *
 * The Python side (training, `pipeline predict`) resizes with Pillow, and Pillow's "bilinear"
 * is a separable triangle filter whose support widens when shrinking (an antialiasing resize),
 * computed in 22-bit fixed point, one axis after the other (see [verticalFirst] for which
 * first), each pass rounded to 8 bits. Android's Bitmap.createScaledBitmap is a different
 * filter; matching Pillow here means the phone feeds the model the same bytes Python does
 * (checked by GoldenInputTest).
 *
 * Built for a camera's frame rate: the taps of an (input size -> output size) pair are computed
 * once and kept ([Resizer] caches them per input size); the image is read through an
 * [Orientation.Mapping], so a turned frame is never copied upright first; pixels stay packed
 * 0xRRGGBB ints in both passes; the buffers are kept between frames.
 */
object PilBilinear {
    internal const val PRECISION_BITS = 32 - 8 - 2
    private const val HALF = 1 shl (PRECISION_BITS - 1)

    /** Per output index: first input index, number of taps, and fixed-point weights. */
    internal class Taps(val inSize: Int, outSize: Int) {
        val start = IntArray(outSize)
        val count = IntArray(outSize)
        val width: Int
        val weights: IntArray

        init {
            val scale = inSize.toDouble() / outSize
            val filterScale = max(scale, 1.0)
            val support = filterScale // the triangle's own support is 1
            width = ceil(support).toInt() * 2 + 1
            weights = IntArray(outSize * width)
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
        }

        private fun triangle(x: Double): Double {
            val a = if (x < 0) -x else x
            return if (a < 1.0) 1.0 - a else 0.0
        }
    }

    private fun clip8(acc: Int): Int = when {
        acc >= (1 shl PRECISION_BITS shl 8) -> 255
        acc <= 0 -> 0
        else -> acc shr PRECISION_BITS
    }

    /**
     * One pass along an axis: `lines` lines of packed pixels, line L starting at
     * `origin + L * lineStep`, taps `tapStep` apart; output (L, o) goes to
     * `dst[L * dstLine + o * dstOut]`. Rows and columns, turned or not, share this loop.
     */
    internal fun pass(src: IntArray, origin: Int, tapStep: Int, lineStep: Int, lines: Int,
                      taps: Taps, dst: IntArray, dstLine: Int, dstOut: Int) {
        val start = taps.start
        val count = taps.count
        val weights = taps.weights
        val outSize = start.size
        for (line in 0 until lines) {
            val lineOrigin = origin + line * lineStep
            var d = line * dstLine
            for (o in 0 until outSize) {
                var i = lineOrigin + start[o] * tapStep
                var wi = o * taps.width
                var r = HALF
                var g = HALF
                var b = HALF
                for (t in 0 until count[o]) {
                    val p = src[i]
                    val w = weights[wi++]
                    r += (p shr 16 and 0xFF) * w
                    g += (p shr 8 and 0xFF) * w
                    b += (p and 0xFF) * w
                    i += tapStep
                }
                dst[d] = (clip8(r) shl 16) or (clip8(g) shl 8) or clip8(b)
                d += dstOut
            }
        }
    }

    /**
     * The same pass as [pass] for lines that lie side by side in memory while each line's taps
     * are far apart (the rows of a frame turned by 90 or 270 degrees): lines innermost, so the
     * reads walk memory in order. `acc` holds 3 x `lines` running sums. Integer sums in
     * another order: the same bytes.
     */
    internal fun passAcross(src: IntArray, origin: Int, tapStep: Int, lineStep: Int, lines: Int,
                            taps: Taps, dst: IntArray, dstLine: Int, dstOut: Int, acc: IntArray) {
        val start = taps.start
        val count = taps.count
        val weights = taps.weights
        val g0 = lines
        val b0 = 2 * lines
        for (o in start.indices) {
            java.util.Arrays.fill(acc, 0, 3 * lines, HALF)
            var wi = o * taps.width
            for (t in 0 until count[o]) {
                val w = weights[wi++]
                var i = origin + (start[o] + t) * tapStep
                for (line in 0 until lines) {
                    val p = src[i]
                    acc[line] += (p shr 16 and 0xFF) * w
                    acc[g0 + line] += (p shr 8 and 0xFF) * w
                    acc[b0 + line] += (p and 0xFF) * w
                    i += lineStep
                }
            }
            var d = o * dstOut
            for (line in 0 until lines) {
                dst[d] = (clip8(acc[line]) shl 16) or (clip8(acc[g0 + line]) shl 8) or
                    clip8(acc[b0 + line])
                d += dstLine
            }
        }
    }

    /**
     * Each pass rounds to 8 bits, so their order changes results by one level here and there:
     * Pillow 13 (the pinned version; python-pillow/Pillow#9549) runs the vertical pass first
     * when the height shrinks by more than twice as many pixels as the width, else rows first.
     * (Pillow skips a pass whose side already has the size; here that pass runs with one tap
     * of weight 1, which gives the same bytes.)
     */
    fun verticalFirst(width: Int, height: Int, size: Int): Boolean =
        height > size && height - size > 2 * (width - size)

    /** Packed pixels (ARGB; alpha ignored) width x height -> size x size packed 0xRRGGBB. */
    fun resize(argb: IntArray, width: Int, height: Int, size: Int): IntArray =
        Resizer(size).resize(argb, Orientation.mapping(width, height, width, Orientation.NORMAL)).copyOf()
}

/**
 * A resize to `size` x `size` that allocates only when it meets a new input size: its output
 * and middle buffers and the taps of the last few input sizes are kept.
 */
class Resizer(val size: Int) {
    /** The last result, size x size packed 0xRRGGBB; overwritten by the next call. */
    val out = IntArray(size * size)
    private var middle = IntArray(0)
    private val taps = arrayOfNulls<PilBilinear.Taps>(4) // width and height, before and after a turn
    private var next = 0

    private fun taps(inSize: Int): PilBilinear.Taps {
        for (t in taps) if (t != null && t.inSize == inSize) return t
        return PilBilinear.Taps(inSize, size).also { taps[next] = it; next = (next + 1) % taps.size }
    }

    private var acc = IntArray(0)

    /** The image `src` seen through `m` (upright size m.width x m.height) -> [out]. */
    fun resize(src: IntArray, m: Orientation.Mapping): IntArray {
        val w = m.width
        val h = m.height
        if (middle.size < max(size * h, w * size)) middle = IntArray(max(size * h, w * size))
        if (acc.size < 3 * max(w, h)) acc = IntArray(3 * max(w, h))
        if (PilBilinear.verticalFirst(w, h, size)) {
            // columns (w of them, taps along y) into a w x size image, then its rows
            firstPass(src, m.origin, m.stepY, m.stepX, w, taps(h), 1, w)
            PilBilinear.pass(middle, 0, 1, w, size, taps(w), out, size, 1)
        } else {
            // rows (h of them, taps along x) into a size x h image, then its columns
            firstPass(src, m.origin, m.stepX, m.stepY, h, taps(w), size, 1)
            PilBilinear.pass(middle, 0, size, 1, size, taps(h), out, 1, size)
        }
        return out
    }

    /** Reads the frame in memory order whichever way it is turned (lines innermost when
     * the taps are the far-apart direction). */
    private fun firstPass(src: IntArray, origin: Int, tapStep: Int, lineStep: Int, lines: Int,
                          t: PilBilinear.Taps, dstLine: Int, dstOut: Int) {
        if (kotlin.math.abs(tapStep) > kotlin.math.abs(lineStep)) {
            PilBilinear.passAcross(src, origin, tapStep, lineStep, lines, t, middle, dstLine,
                                   dstOut, acc)
        } else {
            PilBilinear.pass(src, origin, tapStep, lineStep, lines, t, middle, dstLine, dstOut)
        }
    }
}
