package com.flowerpipeline.demo.core

/**
 * A photo turned upright by its EXIF Orientation tag (1..8), exactly as Pillow's
 * `ImageOps.exif_transpose` turns it in Python (`pipeline/core/images.py`), so a gallery photo
 * reaches the model with the same pixels `pipeline predict` gives it.
 *
 * Phones store most photos as the sensor read them and record in the tag how to show them.
 * BitmapFactory ignores the tag; the app reads it (ExifInterface) and calls [upright]. Camera
 * frames need none of this: CameraX reports their rotation and the app turns them itself.
 * Pixels are packed ints (ARGB or anything else): only their places change.
 */
object Orientation {
    const val NORMAL = 1

    /** An image as packed pixels, row by row. */
    class Image(val pixels: IntArray, val width: Int, val height: Int)

    /** True for the orientations that swap width and height (a quarter turn, with or without a mirror). */
    fun swapsSides(orientation: Int): Boolean = orientation in 5..8

    /**
     * The pixels as a person should see them. Unknown values (0, 9, a damaged tag) leave the
     * image as it is, as Pillow does.
     */
    fun upright(pixels: IntArray, width: Int, height: Int, orientation: Int): Image {
        require(pixels.size == width * height) { "${pixels.size} pixels for $width x $height" }
        if (orientation !in 2..8) return Image(pixels, width, height)
        val outW = if (swapsSides(orientation)) height else width
        val outH = if (swapsSides(orientation)) width else height
        val out = IntArray(pixels.size)
        for (y in 0 until outH) {
            for (x in 0 until outW) {
                out[y * outW + x] = pixels[source(orientation, x, y, width, height)]
            }
        }
        return Image(out, outW, outH)
    }

    /** Index in the stored image of the upright image's pixel (x, y). */
    private fun source(orientation: Int, x: Int, y: Int, w: Int, h: Int): Int = when (orientation) {
        2 -> y * w + (w - 1 - x)                 // mirrored left-right
        3 -> (h - 1 - y) * w + (w - 1 - x)       // turned 180 degrees
        4 -> (h - 1 - y) * w + x                 // mirrored top-bottom
        5 -> x * w + y                           // mirrored over the main diagonal
        6 -> (h - 1 - x) * w + y                 // stored a quarter turn anticlockwise: turn clockwise
        7 -> (h - 1 - x) * w + (w - 1 - y)       // mirrored over the other diagonal
        8 -> x * w + (w - 1 - y)                 // stored a quarter turn clockwise: turn anticlockwise
        else -> y * w + x
    }
}
