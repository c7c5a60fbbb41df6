package com.flowerpipeline.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

/**
 * The eight EXIF orientations on a 3 x 2 image whose pixels are their own stored positions.
 * (GoldenInputTest checks the same logic against Pillow's exif_transpose on real PNG files with
 * an eXIf chunk, byte for byte through the whole preprocessing.)
 */
class OrientationTest {
    //  stored:  0 1 2
    //           3 4 5
    private val stored = intArrayOf(0, 1, 2, 3, 4, 5)

    private fun upright(orientation: Int) = Orientation.upright(stored, 3, 2, orientation)

    @Test
    fun mirrorsAndHalfTurnKeepTheSides() {
        for ((orientation, expected) in mapOf(
            1 to intArrayOf(0, 1, 2, 3, 4, 5),
            2 to intArrayOf(2, 1, 0, 5, 4, 3),
            3 to intArrayOf(5, 4, 3, 2, 1, 0),
            4 to intArrayOf(3, 4, 5, 0, 1, 2),
        )) {
            val image = upright(orientation)
            assertEquals("width, orientation $orientation", 3, image.width)
            assertArrayEquals("orientation $orientation", expected, image.pixels)
        }
    }

    @Test
    fun quarterTurnsSwapTheSides() {
        // 6: the camera was turned clockwise: the stored left column becomes the top row.
        for ((orientation, expected) in mapOf(
            5 to intArrayOf(0, 3, 1, 4, 2, 5),
            6 to intArrayOf(3, 0, 4, 1, 5, 2),
            7 to intArrayOf(5, 2, 4, 1, 3, 0),
            8 to intArrayOf(2, 5, 1, 4, 0, 3),
        )) {
            val image = upright(orientation)
            assertEquals("width, orientation $orientation", 2, image.width)
            assertEquals("height, orientation $orientation", 3, image.height)
            assertArrayEquals("orientation $orientation", expected, image.pixels)
        }
    }

    @Test
    fun unknownValuesLeaveTheImageAsItIs() {
        for (orientation in listOf(0, 9, -1, 65535)) {
            assertArrayEquals(stored, upright(orientation).pixels)
        }
    }

    /** Plain steps, written independently of Orientation: mirror left-right; a quarter turn clockwise. */
    private fun mirror(i: Orientation.Image) =
        Orientation.Image(IntArray(i.pixels.size) { i.pixels[(it / i.width) * i.width + i.width - 1 - it % i.width] }, i.width, i.height)

    private fun turnClockwise(i: Orientation.Image): Orientation.Image {
        val (w, h) = i.height to i.width // the new row y is the old column y, read bottom to top
        return Orientation.Image(IntArray(i.pixels.size) { i.pixels[(i.height - 1 - it % w) * i.width + it / w] }, w, h)
    }

    @Test
    fun mirrorThenTurnDescribesTheSameEightOrientations() {
        for (orientation in 1..8) {
            val (mirrored, degrees) = Orientation.mirrorThenTurn(orientation)
            var image = Orientation.Image(stored, 3, 2)
            if (mirrored) image = mirror(image)
            repeat(degrees / 90) { image = turnClockwise(image) }
            val expected = upright(orientation)
            assertEquals("width, orientation $orientation", expected.width, image.width)
            assertArrayEquals("orientation $orientation", expected.pixels, image.pixels)
        }
    }
}
