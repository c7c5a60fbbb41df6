package com.flowerpipeline.demo

import android.content.ContentResolver
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import androidx.exifinterface.media.ExifInterface
import com.flowerpipeline.demo.core.Orientation
import com.flowerpipeline.demo.core.PhotoBounds
import com.flowerpipeline.demo.core.PhotoSource
import java.io.IOException
import java.io.InputStream

/**
 * A gallery photo through BitmapFactory and ExifInterface; PhotoJob (core) decides the sizes.
 * inSampleSize on a JPEG is libjpeg-turbo's DCT scaling inside Skia, the same kind of reduced
 * decoding as Pillow's draft mode in Python's loader, but not promised to give the same bytes.
 */
class UriPhoto(private val resolver: ContentResolver, private val uri: Uri) : PhotoSource<Bitmap> {
    private fun open(): InputStream = resolver.openInputStream(uri) ?: throw IOException("cannot open $uri")

    override fun bounds(): PhotoBounds {
        val options = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        open().use { BitmapFactory.decodeStream(it, null, options) }
        if (options.outWidth <= 0 || options.outHeight <= 0) throw IOException("not an image this phone can decode")
        return PhotoBounds(options.outWidth, options.outHeight, options.outMimeType == "image/jpeg")
    }

    /** BitmapFactory ignores the EXIF Orientation tag; read here, applied by core.Orientation as Pillow does. */
    override fun orientation(): Int = try {
        open().use { ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL) }
    } catch (e: IOException) {
        Orientation.NORMAL // no readable EXIF: the photo is used as stored, as Pillow does
    }

    override fun decode(sample: Int): Bitmap {
        val options = BitmapFactory.Options().apply {
            inSampleSize = sample
            inPreferredConfig = Bitmap.Config.ARGB_8888
        }
        return open().use { BitmapFactory.decodeStream(it, null, options) } ?: throw IOException("cannot decode it")
    }

    override fun width(bitmap: Bitmap) = bitmap.width
    override fun height(bitmap: Bitmap) = bitmap.height

    override fun pixels(bitmap: Bitmap, out: IntArray) =
        bitmap.getPixels(out, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)

    /** The screen's copy turned by the bitmap's own matrix (native memory, no pixel array on the heap). */
    override fun upright(bitmap: Bitmap, orientation: Int): Bitmap {
        val (mirrored, degrees) = Orientation.mirrorThenTurn(orientation)
        val matrix = Matrix().apply {
            if (mirrored) postScale(-1f, 1f)
            postRotate(degrees.toFloat())
        }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, matrix, false)
    }
}
