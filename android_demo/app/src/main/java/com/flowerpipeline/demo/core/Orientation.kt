package com.flowerpipeline.demo.core

/**
 * A photo turned upright by its EXIF Orientation tag (1..8), exactly as Pillow's
 * `ImageOps.exif_transpose` turns it in Python (`pipeline/data/images.py`), so a gallery photo
 * reaches the model with the same pixels `pipeline predict` gives it.
 *
 * Phones store most photos as the sensor read them and record in the tag how to show them.
 * BitmapFactory ignores the tag; the app reads it (ExifInterface). Camera frames carry a
 * rotation instead (CameraX's rotationDegrees), which is one of the same eight cases.
 *
 * No pixel is moved to turn an image: for every orientation the stored position (an array
 * index, or a byte offset in a camera plane) of the upright pixel (x, y) is
 * `origin + x * stepX + y * stepY` ([Mapping]), and the resize reads through it. [upright]
 * makes the turned copy only where a copy is wanted (the photo on screen).
 */
object Orientation {
    const val NORMAL = 1

    /** An image as packed pixels, row by row. */
    class Image(val pixels: IntArray, val width: Int, val height: Int)

    /**
     * Upright (x, y) -> stored position `origin + x * stepX + y * stepY`; `width` x `height` is the
     * upright size. Mutable so that a camera frame reuses one (no garbage per frame).
     */
    class Mapping {
        var origin = 0; private set
        var stepX = 1; private set
        var stepY = 0; private set
        var width = 0; private set
        var height = 0; private set

        internal fun set(origin: Int, stepX: Int, stepY: Int, width: Int, height: Int): Mapping {
            this.origin = origin; this.stepX = stepX; this.stepY = stepY
            this.width = width; this.height = height
            return this
        }
    }

    /** True for the orientations that swap width and height (a quarter turn, with or without a mirror). */
    fun swapsSides(orientation: Int): Boolean = orientation in 5..8

    /**
     * CameraX's rotationDegrees (how far to turn the frame clockwise to make it upright) as an
     * EXIF orientation: 90 is EXIF 6 ("turn clockwise"), 270 is EXIF 8.
     */
    fun fromRotation(degrees: Int): Int = when (Math.floorMod(degrees, 360)) {
        0 -> NORMAL
        90 -> 6
        180 -> 3
        270 -> 8
        else -> throw IllegalArgumentException("rotation $degrees is not a multiple of 90 degrees")
    }

    /**
     * The stored image `width` x `height` (rows `stride` apart, pixels `pixelStep` apart: 4 to
     * address an RGBA plane's bytes) seen upright. Unknown values (0, 9, a damaged tag) leave
     * the image as it is, as Pillow does.
     */
    fun mapping(width: Int, height: Int, stride: Int, orientation: Int, into: Mapping = Mapping(),
                pixelStep: Int = 1): Mapping {
        val px = pixelStep
        val right = (width - 1) * px
        val bottom = (height - 1) * stride
        return when (orientation) {
            2 -> into.set(right, -px, stride, width, height)            // mirrored left-right
            3 -> into.set(bottom + right, -px, -stride, width, height)  // turned 180 degrees
            4 -> into.set(bottom, px, -stride, width, height)           // mirrored top-bottom
            5 -> into.set(0, stride, px, height, width)                 // mirrored over the main diagonal
            6 -> into.set(bottom, -stride, px, height, width)           // stored a quarter turn anticlockwise
            7 -> into.set(bottom + right, -stride, -px, height, width)  // mirrored over the other diagonal
            8 -> into.set(right, stride, -px, height, width)            // stored a quarter turn clockwise
            else -> into.set(0, px, stride, width, height)
        }
    }

    /**
     * The orientation as "mirror left-right or not, then turn clockwise by this many degrees",
     * the two steps a platform's bitmap matrix does natively (Android: postScale(-1, 1), then
     * postRotate); checked against [upright] by OrientationTest.
     */
    fun mirrorThenTurn(orientation: Int): Pair<Boolean, Int> = when (orientation) {
        2 -> true to 0
        3 -> false to 180
        4 -> true to 180
        5 -> true to 270
        6 -> false to 90
        7 -> true to 90
        8 -> false to 270
        else -> false to 0
    }

    /** The pixels as a person should see them, as a new array (for the screen and for tests). */
    fun upright(pixels: IntArray, width: Int, height: Int, orientation: Int): Image {
        require(pixels.size == width * height) { "${pixels.size} pixels for $width x $height" }
        val m = mapping(width, height, width, orientation)
        val out = IntArray(pixels.size)
        var i = 0
        for (y in 0 until m.height) {
            var src = m.origin + y * m.stepY
            for (x in 0 until m.width) {
                out[i++] = pixels[src]
                src += m.stepX
            }
        }
        return Image(out, m.width, m.height)
    }
}
