package com.flowerpipeline.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.Random

/**
 * The resize reads its image through [Pixels] once per frame: every pixel exactly once (no
 * copy of the frame first, no pixel fetched again for a later tap), padding never, and a line
 * per call. Speed itself is FrameBench's to measure, not asserted here.
 */
class ResizerTest {
    /** A w x h image of random pixels, rows `stride` apart, that counts the reads of each position. */
    private class Counting(val w: Int, val h: Int, val stride: Int, seed: Long) : Pixels {
        val argb = IntArray(h * stride).also { val random = Random(seed); for (i in it.indices) it[i] = random.nextInt() }
        val reads = IntArray(argb.size)
        var calls = 0

        override fun read(at: Int, step: Int, n: Int, into: IntArray) {
            calls++
            var i = at
            for (k in 0 until n) {
                reads[i]++
                into[k] = argb[i]
                i += step
            }
        }

        fun upright(orientation: Int): Orientation.Image {
            val packed = IntArray(w * h) { argb[it / w * stride + it % w] }
            return Orientation.upright(packed, w, h, orientation)
        }
    }

    @Test
    fun eachPixelIsReadOncePerFrameWhicheverWayItIsTurned() {
        // shrinking both ways, columns first (9 x 4 turned), growing (5 x 3 -> 16)
        for ((w, h) in listOf(67 to 41, 41 to 67, 9 to 4, 5 to 3)) {
            val resizer = Resizer(16) // kept from frame to frame, as the app keeps it
            for (orientation in 1..8) {
                val image = Counting(w, h, w + 3, seed = w * 10L + orientation)
                val m = Orientation.mapping(w, h, image.stride, orientation)
                val label = "$w x $h, orientation $orientation"
                for (frame in 1..2) {
                    image.reads.fill(0)
                    image.calls = 0
                    val out = resizer.resize(image, m)
                    for (i in image.reads.indices) {
                        val pixel = i % image.stride < w
                        assertEquals("$label, frame $frame: reads of position $i", if (pixel) 1 else 0, image.reads[i])
                    }
                    assertTrue("$label: ${image.calls} reads, more than one per line", image.calls <= maxOf(w, h))
                    val upright = image.upright(orientation)
                    assertArrayEquals(label, PilBilinear.resize(upright.pixels, upright.width, upright.height, 16), out)
                }
            }
        }
    }
}
