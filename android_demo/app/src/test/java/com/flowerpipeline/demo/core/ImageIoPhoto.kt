package com.flowerpipeline.demo.core

import java.awt.image.BufferedImage
import java.io.File
import java.io.IOException
import javax.imageio.ImageIO
import javax.imageio.ImageReader

/**
 * The JVM's stand-in for the app's BitmapFactory photo source, for tests and the benchmark.
 * BitmapFactory's inSampleSize is played by ImageIO's source subsampling (every n-th pixel of
 * a fully decoded row, not libjpeg's DCT scaling): the same sizes and the same bounded memory,
 * not the same pixels. No EXIF here: the orientation is given.
 */
class ImageIoPhoto(private val file: File, private val orientation: Int = Orientation.NORMAL) : PhotoSource<BufferedImage> {
    private fun <T> reading(block: (ImageReader) -> T): T {
        val stream = ImageIO.createImageInputStream(file) ?: throw IOException("cannot open $file")
        stream.use {
            val reader = ImageIO.getImageReaders(it).asSequence().firstOrNull()
                ?: throw IOException("$file is not an image ImageIO can decode")
            try {
                reader.input = it
                return block(reader)
            } finally {
                reader.dispose()
            }
        }
    }

    override fun bounds(): PhotoBounds = reading {
        PhotoBounds(it.getWidth(0), it.getHeight(0), it.formatName.lowercase() in setOf("jpeg", "jpg"))
    }

    override fun orientation(): Int = orientation

    override fun decode(sample: Int): BufferedImage = reading {
        val param = it.defaultReadParam.apply { setSourceSubsampling(sample, sample, 0, 0) }
        it.read(0, param)
    }

    override fun width(bitmap: BufferedImage) = bitmap.width
    override fun height(bitmap: BufferedImage) = bitmap.height

    override fun pixels(bitmap: BufferedImage, out: IntArray) {
        bitmap.getRGB(0, 0, bitmap.width, bitmap.height, out, 0, bitmap.width)
    }

    override fun upright(bitmap: BufferedImage, orientation: Int): BufferedImage {
        val pixels = IntArray(bitmap.width * bitmap.height).also { pixels(bitmap, it) }
        val turned = Orientation.upright(pixels, bitmap.width, bitmap.height, orientation)
        return BufferedImage(turned.width, turned.height, BufferedImage.TYPE_INT_RGB)
            .apply { setRGB(0, 0, turned.width, turned.height, turned.pixels, 0, turned.width) }
    }

    companion object {
        /** A noisy gradient JPEG, `width` x `height`: a stand-in for a phone photo. */
        fun writeJpeg(file: File, width: Int, height: Int): File {
            val image = BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR)
            val row = IntArray(width)
            val random = java.util.Random(1)
            for (y in 0 until height) {
                for (x in 0 until width) {
                    val r = (x * 255 / width + random.nextInt(32)).coerceAtMost(255)
                    val g = (y * 255 / height + random.nextInt(32)).coerceAtMost(255)
                    row[x] = (r shl 16) or (g shl 8) or ((x + y) * 127 / (width + height))
                }
                image.setRGB(0, y, width, 1, row, 0, width)
            }
            if (!ImageIO.write(image, "jpeg", file)) throw IOException("no JPEG writer")
            return file
        }
    }
}
